/**
 * Tracing through real sidecars: the image's bundle in child processes, mTLS between a client
 * sidecar (egress) and a server sidecar (inbound, in front of an app), and a real OTLP/HTTP
 * collector whose payloads are decoded with the official opentelemetry-proto definitions.
 *
 * - One request keeps one trace id through both hops, with a new span per hop (a CLIENT span on
 *   the egress, a SERVER span on the inbound) linked parent to child, for each incoming format and
 *   for none; the app sees the server span as its parent in every format the caller used.
 * - A gateway hop starts the trace with a CLIENT span, the server sidecar's span its child.
 * - Sampling: 0% exports nothing of new traces but keeps a caller's decision, 100% everything,
 *   and a seeded rate repeats its decisions.
 * - A dead collector (refused, or accepting and never answering) leaves the sidecar serving, and
 *   its span queue bounded, as its admin `/stats` counts show.
 */
import { freePorts } from '../../../bench/ports';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, staticCluster, TIMEOUT, type ConfigBody, type Upstream } from '../harness';
import { startSidecarProcess, type SidecarProcess } from '../hardening/sidecar-process';
import { TestPki } from '../tls/test-pki';
import { startCollector, type Collector, type DecodedSpan } from './otlp-collector';

const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';
const SERVER_ID = 'spiffe://weft.test/ns/demo/sa/server';
const EDGE_ID = 'spiffe://weft.test/ns/demo/sa/edge';
const HOST = { host: 'server.demo.local:8080' };
const CLIENT_KIND = 3;
const SERVER_KIND = 2;

const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [SERVER_ID] };
const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [] } };

let pki: TestPki;
let ca: string;
let clientCerts: string;
let serverCerts: string;
let app: Upstream;
let collector: Collector;
const started: SidecarProcess[] = [];

beforeAll(async () => {
  pki = new TestPki();
  ca = pki.ca('mesh-ca');
  clientCerts = pki.leaf('client', CLIENT_ID, ca);
  serverCerts = pki.leaf('server', SERVER_ID, ca);
  app = await startUpstream('server-app');
  collector = await startCollector();
}, 30_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await app?.close();
  await collector?.close();
  await agent.close();
  pki?.remove();
});

async function sidecar(body: ConfigBody, args: string[], env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const s = await startSidecarProcess(body, ['--tracing-interval-ms', '100', ...args], env);
  started.push(s);
  return s;
}

/** A server sidecar in front of the app and a client sidecar calling it over mTLS, both tracing. */
async function twoHops(tracing: ConfigBody['tracing'], clientArgs: string[] = [], clientEnv: NodeJS.ProcessEnv = {}): Promise<{ client: SidecarProcess; server: SidecarProcess }> {
  const server = await sidecar({ ...nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), tracing }, [
    '--cert-source',
    `file:${serverCerts}`,
    '--app-ports',
    String(app.port),
  ]);
  const client = await sidecar(
    {
      ...nodeBody({
        services: [{ name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] }],
        clusters: [staticCluster('server:8080', [server.ports.inbound], { tls: mtls })],
      }),
      tracing,
    },
    ['--cert-source', `file:${clientCerts}`, ...clientArgs],
    clientEnv,
  );
  return { client, server };
}

/** Sends a request through the client's egress; returns the trace headers the app received. */
async function call(client: SidecarProcess, headers: Record<string, string> = {}): Promise<Record<string, string | undefined>> {
  const marker = `m-${Math.random().toString(36).slice(2)}`;
  const res = await get(client.ports.egress, `/${marker}`, { ...HOST, ...headers });
  expect(res.status).toBe(200);
  const seen = app.seen.find((s) => s.url === `/${marker}`)!;
  const h = seen.headers;
  const one = (name: string) => h[name] as string | undefined;
  return { traceparent: one('traceparent'), b3: one('b3'), 'x-b3-traceid': one('x-b3-traceid'), 'x-b3-spanid': one('x-b3-spanid'), 'x-b3-parentspanid': one('x-b3-parentspanid'), 'x-b3-sampled': one('x-b3-sampled'), 'x-amzn-trace-id': one('x-amzn-trace-id') };
}

async function adminStats(s: SidecarProcess): Promise<{ tracing: { on: boolean; queued: number; exported: number; dropped: number; exportFailures: number; inFlight: boolean } | null }> {
  return (await get(s.ports.admin, '/stats')).json() as never;
}

const spansOf = (traceId: string): DecodedSpan[] => collector.spans().filter((s) => s.traceId === traceId);

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('two sidecars, 100% sampling', () => {
  let client: SidecarProcess;

  beforeAll(async () => {
    ({ client } = await twoHops({ samplingPercentage: 100, endpoint: collector.url }));
  }, 60_000);

  /** A trace id of the case's own, so that each case finds only its spans. */
  const traceOf = (n: number) => `${TRACE.slice(0, 31)}${n}`;

  test.each([
    ['W3C traceparent', (t: string) => ({ traceparent: `00-${t}-${CALLER_SPAN}-01` })],
    ['B3 single', (t: string) => ({ b3: `${t}-${CALLER_SPAN}-1` })],
    ['B3 multi', (t: string) => ({ 'x-b3-traceid': t, 'x-b3-spanid': CALLER_SPAN, 'x-b3-sampled': '1' })],
    ['X-Ray', (t: string) => ({ 'x-amzn-trace-id': `Root=1-${t.slice(0, 8)}-${t.slice(8)};Parent=${CALLER_SPAN};Sampled=1` })],
  ])('%s: one trace id, a span per hop, parent links, the same format on to the app', async (format, headers) => {
    const trace = traceOf(['W3C traceparent', 'B3 single', 'B3 multi', 'X-Ray'].indexOf(format));
    const seen = await call(client, headers(trace));
    await eventually(() => spansOf(trace).length === 2, `the spans of the ${format} request`, 20_000);
    const hop1 = spansOf(trace).find((s) => s.parentSpanId === CALLER_SPAN)!;
    const hop2 = spansOf(trace).find((s) => s.parentSpanId === hop1.spanId)!;
    expect(hop1).toMatchObject({ kind: CLIENT_KIND, name: 'GET server/r' });
    expect(hop1.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': 'server/r', 'http.response.status_code': 200, upstream_cluster: 'server:8080', response_flags: '-' });
    expect(hop2).toMatchObject({ kind: SERVER_KIND });
    expect(hop2.attributes).toMatchObject({ 'weft.peer_principal': CLIENT_ID, 'http.response.status_code': 200 });
    expect(hop2.spanId).not.toBe(hop1.spanId);
    // The app's parent is the server sidecar's span, in traceparent and in the caller's own format.
    expect(seen.traceparent).toBe(`00-${trace}-${hop2.spanId}-01`);
    if (format === 'B3 single') expect(seen.b3).toBe(`${trace}-${hop2.spanId}-1`);
    if (format === 'B3 multi') expect(seen).toMatchObject({ 'x-b3-traceid': trace, 'x-b3-spanid': hop2.spanId, 'x-b3-parentspanid': hop1.spanId, 'x-b3-sampled': '1' });
    if (format === 'X-Ray') expect(seen['x-amzn-trace-id']).toBe(`Root=1-${trace.slice(0, 8)}-${trace.slice(8)};Parent=${hop2.spanId};Sampled=1`);
    if (format === 'W3C traceparent') expect(seen.b3).toBeUndefined();
  }, 30_000);

  test('no incoming context: the client sidecar starts the trace, both hops join it', async () => {
    const seen = await call(client);
    const [, traceId, appParent, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(seen.traceparent ?? '')!;
    expect(flags).toBe('01');
    await eventually(() => spansOf(traceId).length === 2, 'both spans of the new trace', 20_000);
    const root = spansOf(traceId).find((s) => s.parentSpanId === '')!;
    const child = spansOf(traceId).find((s) => s.parentSpanId === root.spanId)!;
    expect(root.kind).toBe(CLIENT_KIND);
    expect(child).toMatchObject({ kind: SERVER_KIND, spanId: appParent });
    expect(seen.b3).toBeUndefined();
    expect(seen['x-amzn-trace-id']).toBeUndefined();
  }, 30_000);

  test('a malformed header is ignored: a new trace, the request served', async () => {
    const seen = await call(client, { traceparent: `00-${'z'.repeat(32)}-${CALLER_SPAN}-01` });
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen.traceparent).not.toContain(CALLER_SPAN);
  });

  test('every export is a POST of protobuf to the configured path', () => {
    expect(collector.exports.length).toBeGreaterThan(0);
    for (const e of collector.exports) expect(e).toMatchObject({ path: '/v1/traces', contentType: 'application/x-protobuf' });
  });
});

describe('a gateway hop', () => {
  test('the gateway writes a CLIENT span and starts the trace; the server sidecar\'s span is its child', async () => {
    const server = await sidecar({ ...nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), tracing: { samplingPercentage: 100, endpoint: collector.url } }, [
      '--cert-source',
      `file:${serverCerts}`,
      '--app-ports',
      String(app.port),
    ]);
    const [edgePort] = await freePorts(1);
    const edgeCerts = pki.leaf('edge', EDGE_ID, ca);
    await sidecar(
      {
        mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
        node: { kind: 'virtualGateway', name: 'edge', spiffeId: EDGE_ID },
        inbound: { listeners: [], policy: {} },
        gateway: {
          listeners: [{ port: edgePort, protocol: 'http' }],
          routes: [{ name: 'edge/shop', priority: 0, protocol: 'http', match: { path: { prefix: '/' } }, target: { virtualService: 'server.demo.local' }, rewrite: { prefix: '/' } }],
          policy: {},
        },
        outbound: { services: [{ name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] }] },
        clusters: [staticCluster('server:8080', [server.ports.inbound], { tls: mtls })],
        tracing: { samplingPercentage: 100, endpoint: collector.url },
      },
      ['--cert-source', `file:${edgeCerts}`],
    );
    const res = await get(edgePort, '/from-the-edge', { host: 'shop.example.com' });
    expect(res.status).toBe(200);
    const seen = app.seen.find((s) => s.url === '/from-the-edge')!;
    const [, traceId, appParent] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.headers.traceparent as string)!;
    await eventually(() => spansOf(traceId).length === 2, 'the gateway\'s and the server\'s spans', 20_000);
    const gw = spansOf(traceId).find((s) => s.parentSpanId === '')!;
    expect(gw).toMatchObject({ kind: CLIENT_KIND, name: 'GET server/r' });
    expect(spansOf(traceId).find((s) => s.parentSpanId === gw.spanId)).toMatchObject({ kind: SERVER_KIND, spanId: appParent });
  }, 60_000);
});

describe('sampling', () => {
  test('0%: new traces are propagated unsampled and not exported; a caller\'s decision is kept', async () => {
    const { client } = await twoHops({ samplingPercentage: 0, endpoint: collector.url });
    const unsampled = [];
    for (let i = 0; i < 5; i++) unsampled.push(await call(client));
    for (const seen of unsampled) expect(seen.traceparent).toMatch(/-00$/);
    const kept = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const seen = await call(client, { traceparent: `00-${kept}-${CALLER_SPAN}-01` });
    expect(seen.traceparent).toMatch(/-01$/);
    // The sampled request went last: once its spans are in, the unsampled ones would be too.
    await eventually(() => spansOf(kept).length === 2, 'the spans of the caller-sampled request', 20_000);
    for (const u of unsampled) expect(spansOf(u.traceparent!.slice(3, 35))).toEqual([]);
  }, 60_000);

  test('a seeded rate makes the same decisions from run to run, and both kinds at 50%', async () => {
    const decisions = async (): Promise<string> => {
      const { client } = await twoHops({ samplingPercentage: 50, endpoint: collector.url }, ['--random-seed', '42']);
      let out = '';
      for (let i = 0; i < 24; i++) out += (await call(client)).traceparent!.endsWith('-01') ? '1' : '0';
      return out;
    };
    const first = await decisions();
    const second = await decisions();
    expect(second).toBe(first);
    expect(first).toContain('1');
    expect(first).toContain('0');
  }, 90_000);
});

describe('a dead collector', () => {
  test('refused: every export fails and drops its batch; the sidecar serves on, its queue empty', async () => {
    const [dead] = await freePorts(1);
    const { client } = await twoHops({ samplingPercentage: 100, endpoint: `http://127.0.0.1:${dead}/v1/traces` });
    for (let i = 0; i < 5; i++) await call(client);
    await eventually(async () => ((await adminStats(client)).tracing?.exportFailures ?? 0) >= 1 && (await adminStats(client)).tracing?.queued === 0, 'a failed export', 20_000);
    for (let i = 0; i < 5; i++) await call(client);
    const stats = (await adminStats(client)).tracing!;
    expect(stats).toMatchObject({ on: true, exported: 0 });
    expect(stats.dropped + stats.queued).toBe(10);
    expect(client.events().some((e) => e.event === 'span_export_failed')).toBe(true);
  }, 60_000);

  test('accepting and never answering: one export in flight, the queue stops at its bound, the rest dropped and counted', async () => {
    const hung = await startCollector({ hang: true });
    try {
      const { client } = await twoHops({ samplingPercentage: 100, endpoint: hung.url }, ['--tracing-max-queue', '20', '--metrics', 'prometheus']);
      // One request, a span in each sidecar, and each one's export: they hang with that span in flight.
      await call(client);
      await eventually(() => hung.received() === 2, 'the first export of each sidecar to reach the hung collector', 20_000);
      for (let i = 0; i < 30; i++) await call(client);
      expect((await adminStats(client)).tracing).toMatchObject({ inFlight: true, queued: 20, dropped: 10, exported: 0 });
      expect(hung.received()).toBe(2);
      const prometheus = (await get(client.ports.admin, '/stats/prometheus')).text;
      expect(prometheus).toContain('\nweft_tracing_spans_dropped_total 10\n');
      expect(prometheus).toContain('\nweft_tracing_spans_exported_total 0\n');
      expect(prometheus).toContain('\nweft_tracing_export_failures_total 0\n');
    } finally {
      await hung.close();
    }
  }, 60_000);
});
