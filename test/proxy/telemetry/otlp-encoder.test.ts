/**
 * The hand-written OTLP encoder against the official definitions: what it writes decodes with
 * opentelemetry-proto's ExportTraceServiceRequest (protobufjs) into the spans the records describe.
 */
import { CompletionRecord } from '../../../proxy/exchange/record';
import { encodeSpans, ProtoWriter, SPAN_KIND } from '../../../proxy/telemetry/otlp-encoder';
import { decodeExport, exportTraceServiceRequest } from './otlp-collector';

const source = { serviceName: 'orders', mesh: 'demo' };

function record(listener: 'inbound' | 'egress', fill: Partial<CompletionRecord>): CompletionRecord {
  const r = new CompletionRecord('http', listener, '127.0.0.1', { authenticated: false, principal: undefined, encrypted: false });
  Object.assign(r, { method: 'GET', authority: 'orders.demo.local', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceSampled: true, status: 200, durationMs: 12.5 }, fill);
  return r;
}

test('a client span and a server span decode with every field the records carry', () => {
  const client = record('egress', { route: 'orders/r', cluster: 'orders:8080', endpoint: '10.0.0.7:15000', requestId: 'req-1' });
  const server = record('inbound', { parentSpanId: '00f067aa0ba902b7', spanId: 'b7ad6b7169203331', peerPrincipal: 'spiffe://weft.test/ns/demo/sa/client', status: 503, flags: 'UF', errorCode: 'WEFT_ERR_APP_UNREACHABLE' });
  const [batch] = decodeExport(encodeSpans(new ProtoWriter(), source, [client, server], 0, 2));
  expect(batch.resource).toEqual({ 'service.name': 'orders', 'weft.mesh': 'demo', 'telemetry.sdk.name': 'weft' });
  expect(batch.scope).toBe('weft-sidecar');
  const [c, s] = batch.spans;
  expect(c).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '', name: 'GET orders/r', kind: SPAN_KIND.client, status: undefined });
  expect(c.attributes).toEqual({
    'http.request.method': 'GET',
    'http.route': 'orders/r',
    'http.response.status_code': 200,
    upstream_cluster: 'orders:8080',
    upstream_address: '10.0.0.7:15000',
    response_flags: '-',
    'guid:x-request-id': 'req-1',
  });
  // Start and end in Unix nanoseconds, the duration between them.
  const startMs = Number(BigInt(c.startTimeUnixNano) / 1_000_000n);
  expect(Math.abs(startMs - client.startedAt)).toBeLessThan(1_000);
  expect(Number(BigInt(c.endTimeUnixNano) - BigInt(c.startTimeUnixNano)) / 1e6).toBeCloseTo(12.5, 3);
  expect(s).toMatchObject({ spanId: 'b7ad6b7169203331', parentSpanId: '00f067aa0ba902b7', name: 'GET orders.demo.local', kind: SPAN_KIND.server, status: { code: 2, message: 'WEFT_ERR_APP_UNREACHABLE' } });
  expect(s.attributes).toMatchObject({ 'http.response.status_code': 503, 'weft.peer_principal': 'spiffe://weft.test/ns/demo/sa/client', response_flags: 'UF', error: true, 'weft.error_code': 'WEFT_ERR_APP_UNREACHABLE' });
});

test('a large batch with long and non-ASCII strings round-trips, and the writer is reused between batches', () => {
  const writer = new ProtoWriter();
  const records = Array.from({ length: 600 }, (_, i) => record('egress', { route: `route-${i}-${'é'.repeat(i % 200)}`, spanId: i.toString(16).padStart(16, '1') }));
  encodeSpans(writer, source, records.slice(0, 3), 0, 3);
  const body = encodeSpans(writer, source, records, 10, 600);
  expect(exportTraceServiceRequest().verify(exportTraceServiceRequest().decode(body))).toBeNull();
  const spans = decodeExport(body)[0].spans;
  expect(spans).toHaveLength(590);
  expect(spans.map((s) => s.attributes['http.route'])).toEqual(records.slice(10).map((r) => r.route));
  expect(spans.map((s) => s.spanId)).toEqual(records.slice(10).map((r) => r.spanId));
});
