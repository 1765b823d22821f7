/**
 * OTLP/HTTP protobuf encoding of the sidecar's spans: an `ExportTraceServiceRequest`
 * (opentelemetry-proto `collector/trace/v1`) holding one `ResourceSpans` (this sidecar) with one
 * `ScopeSpans` of a batch of completion records. Only the fields Weft fills are written, by a small
 * writer of its own rather than a protobuf library: the shape is fixed, the writer reuses one
 * growing buffer across batches, and a span costs nothing beyond its record (see the commit that
 * introduced it; a library would add its runtime to the sidecar bundle).
 *
 * Field numbers follow opentelemetry-proto v1 (trace.proto, common.proto, resource.proto).
 */
import type { CompletionRecord } from '../exchange/record';

/** Span kinds (trace.proto `Span.SpanKind`). */
export const SPAN_KIND = { server: 2, client: 3 } as const;
/** Status codes (trace.proto `Status.StatusCode`). */
const STATUS_ERROR = 2;

/** Who wrote the spans: the resource and scope of every batch. */
export interface SpanSource {
  /** `service.name`: the virtual node or gateway. */
  serviceName: string;
  /** `weft.mesh`. */
  mesh: string;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

/** Nanoseconds per millisecond, and 2^32 for splitting fixed64 values held as doubles. */
const NS_PER_MS = 1e6;
const TWO_32 = 4294967296;

/**
 * A protobuf writer over one growing buffer. Nested messages are written in place and their
 * length prefix inserted when they end (the bytes after it move by the prefix's size), so no
 * message is built apart and copied.
 */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private readonly open: number[] = [];

  reset(): void {
    this.pos = 0;
    this.open.length = 0;
  }

  /** The bytes written, copied out (the buffer is reused). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  begin(field: number): void {
    this.tag(field, WIRE_LEN);
    this.open.push(this.pos);
  }

  end(): void {
    const start = this.open.pop()!;
    const len = this.pos - start;
    const n = varintSize(len);
    this.ensure(n);
    this.buf.copyWithin(start + n, start, this.pos);
    const end = this.pos + n;
    this.pos = start;
    this.varint(len);
    this.pos = end;
  }

  string(field: number, value: string): void {
    const len = Buffer.byteLength(value);
    this.tag(field, WIRE_LEN);
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(value, this.pos, 'utf8');
  }

  /** A `bytes` field from hex digits. */
  hexBytes(field: number, hex: string): void {
    const len = hex.length >>> 1;
    this.tag(field, WIRE_LEN);
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(hex, this.pos, 'hex');
  }

  uint(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** A fixed64 from a non-negative double (nanosecond timestamps: exact to ~256 ns). */
  fixed64(field: number, value: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    const high = Math.floor(value / TWO_32);
    this.buf.writeUInt32LE(value - high * TWO_32, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A varint of a non-negative integer up to 2^53. */
  private varint(value: number): void {
    this.ensure(10);
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.pos++] = value;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

function varintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

// common.proto: KeyValue { key = 1; value = 2 }, AnyValue { string_value = 1; bool_value = 2; int_value = 3 }.
function attribute(w: ProtoWriter, field: number, key: string, value: string | number | boolean): void {
  w.begin(field);
  w.string(1, key);
  w.begin(2);
  if (typeof value === 'string') w.string(1, value);
  else if (typeof value === 'boolean') w.uint(2, value ? 1 : 0);
  else w.uint(3, value);
  w.end();
  w.end();
}

/** Span attribute names (OpenTelemetry's HTTP conventions where they have one, Envoy's tags otherwise). */
export const SPAN_ATTRIBUTES = {
  method: 'http.request.method',
  route: 'http.route',
  status: 'http.response.status_code',
  cluster: 'upstream_cluster',
  endpoint: 'upstream_address',
  peerPrincipal: 'weft.peer_principal',
  responseFlags: 'response_flags',
  error: 'error',
  errorCode: 'weft.error_code',
  requestId: 'guid:x-request-id',
} as const;

/** The span of one record; its name is the method and the route (or the authority when none matched). */
function writeSpan(w: ProtoWriter, r: CompletionRecord): void {
  w.begin(2); // ScopeSpans.spans
  w.hexBytes(1, r.traceId!);
  w.hexBytes(2, r.spanId!);
  if (r.parentSpanId !== undefined) w.hexBytes(4, r.parentSpanId);
  w.string(5, `${r.method} ${r.route ?? r.authority}`);
  w.uint(6, r.listener === 'inbound' ? SPAN_KIND.server : SPAN_KIND.client);
  const start = (performance.timeOrigin + r.start) * NS_PER_MS;
  w.fixed64(7, start);
  w.fixed64(8, start + r.durationMs * NS_PER_MS);
  const A = SPAN_ATTRIBUTES;
  attribute(w, 9, A.method, r.method);
  if (r.route !== undefined) attribute(w, 9, A.route, r.route);
  attribute(w, 9, A.status, r.status);
  if (r.cluster !== undefined) attribute(w, 9, A.cluster, r.cluster);
  if (r.endpoint !== undefined) attribute(w, 9, A.endpoint, r.endpoint);
  if (r.peerPrincipal !== undefined) attribute(w, 9, A.peerPrincipal, r.peerPrincipal);
  attribute(w, 9, A.responseFlags, r.flags);
  if (r.requestId !== undefined) attribute(w, 9, A.requestId, r.requestId);
  if (spanFailed(r)) {
    attribute(w, 9, A.error, true);
    if (r.errorCode !== undefined) attribute(w, 9, A.errorCode, r.errorCode);
    w.begin(15); // Status
    if (r.errorCode !== undefined) w.string(2, r.errorCode);
    w.uint(3, STATUS_ERROR);
    w.end();
  }
  w.end();
}

/** A failed hop: a 5xx, or no response at all (client gone, a cut response). */
export function spanFailed(r: CompletionRecord): boolean {
  return r.status >= 500 || r.status === 0;
}

/** Encodes `records[from, to)` as one ExportTraceServiceRequest. */
export function encodeSpans(w: ProtoWriter, source: SpanSource, records: readonly CompletionRecord[], from: number, to: number): Buffer {
  w.reset();
  w.begin(1); // ExportTraceServiceRequest.resource_spans
  w.begin(1); // ResourceSpans.resource
  attribute(w, 1, 'service.name', source.serviceName);
  attribute(w, 1, 'weft.mesh', source.mesh);
  attribute(w, 1, 'telemetry.sdk.name', 'weft');
  w.end();
  w.begin(2); // ResourceSpans.scope_spans
  w.begin(1); // ScopeSpans.scope
  w.string(1, 'weft-sidecar');
  w.end();
  for (let i = from; i < to; i++) writeSpan(w, records[i]);
  w.end();
  w.end();
  return w.finish();
}
