/**
 * Trace context on the wire: W3C `traceparent`, B3 (single `b3` and multi `x-b3-*`) and AWS
 * X-Ray `X-Amzn-Trace-Id`. Reading takes the first well-formed context in {@link TRACE_PRECEDENCE}
 * order and ignores malformed ones (the hop then starts a new trace: a bad header is never an
 * error). Writing sends `traceparent` always and, beside it, each other format the caller sent,
 * all naming the same trace, this hop's span as the parent and the same sampling decision.
 *
 * Runs per request while tracing is on: a few header lookups and character checks, no regex and
 * no object besides the id strings.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Where a hop's trace context is kept (the completion record's trace fields). */
export interface TraceFields {
  /** 32 lowercase hex digits. */
  traceId: string | undefined;
  /** The caller's span id (16 hex digits): this hop's parent. */
  parentSpanId: string | undefined;
  /** The caller's sampling decision; undefined when it made none. */
  traceSampled: boolean | undefined;
}

/** Bits naming the formats a request carried (well formed or not), so that the same ones are written. */
export const TRACE_FORMATS = { w3c: 1, b3: 2, b3Multi: 4, xray: 8 } as const;

/** Which format wins when a request carries several: W3C, B3 single, B3 multi, X-Ray. */
export const TRACE_PRECEDENCE = ['traceparent', 'b3', 'x-b3-traceid', 'x-amzn-trace-id'] as const;

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
/** A 64-bit B3 trace id is the low half of a 128-bit one (W3C's rule for shorter ids). */
const B3_HIGH_ZEROS = '0000000000000000';

/**
 * Reads the request's trace context into `into` (all three fields are set: undefined when not
 * found) and returns the {@link TRACE_FORMATS} bits of the trace headers present.
 */
export function readTraceContext(h: IncomingHttpHeaders, into: TraceFields): number {
  into.traceId = undefined;
  into.parentSpanId = undefined;
  into.traceSampled = undefined;
  let formats = 0;
  const w3c = h.traceparent;
  if (w3c !== undefined) {
    formats |= TRACE_FORMATS.w3c;
    readW3c(w3c, into);
  }
  const b3 = h.b3;
  if (b3 !== undefined) {
    formats |= TRACE_FORMATS.b3;
    if (into.traceId === undefined && into.traceSampled === undefined) readB3Single(b3, into);
  }
  const b3Trace = h['x-b3-traceid'];
  if (b3Trace !== undefined || h['x-b3-sampled'] !== undefined || h['x-b3-flags'] !== undefined) {
    formats |= TRACE_FORMATS.b3Multi;
    if (into.traceId === undefined && into.traceSampled === undefined) readB3Multi(h, into);
  }
  const xray = h['x-amzn-trace-id'];
  if (xray !== undefined) {
    formats |= TRACE_FORMATS.xray;
    if (into.traceId === undefined && into.traceSampled === undefined) readXray(xray, into);
  }
  return formats;
}

/**
 * Writes the trace context of the next hop into `out`: `traceparent` (tracestate is passed on as
 * it came) and the other formats in `formats`, each with `spanId` as the parent.
 */
export function writeTraceContext(out: Record<string, string | string[]>, formats: number, traceId: string, spanId: string, parentSpanId: string | undefined, sampled: boolean): void {
  out.traceparent = `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
  if ((formats & TRACE_FORMATS.b3) !== 0) out.b3 = `${traceId}-${spanId}-${sampled ? '1' : '0'}`;
  if ((formats & TRACE_FORMATS.b3Multi) !== 0) {
    out['x-b3-traceid'] = traceId;
    out['x-b3-spanid'] = spanId;
    if (parentSpanId !== undefined) out['x-b3-parentspanid'] = parentSpanId;
    else delete out['x-b3-parentspanid'];
    out['x-b3-sampled'] = sampled ? '1' : '0';
    // The decision is in x-b3-sampled now; a debug flag would force sampling downstream.
    delete out['x-b3-flags'];
  }
  if ((formats & TRACE_FORMATS.xray) !== 0) out['x-amzn-trace-id'] = `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${spanId};Sampled=${sampled ? '1' : '0'}`;
}

/** `00-<trace>-<span>-<flags>`; a later version may append `-...` fields. */
function readW3c(value: string | string[], into: TraceFields): void {
  if (typeof value !== 'string' || value.length < 55) return;
  if (!isHex(value, 0, 2) || value.startsWith('ff') || value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45) return;
  if (!isHex(value, 3, 35) || !isHex(value, 36, 52) || !isHex(value, 53, 55)) return;
  if (value.length > 55 && (value.startsWith('00') || value.charCodeAt(55) !== 45)) return;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return;
  into.traceId = traceId;
  into.parentSpanId = spanId;
  into.traceSampled = (hexDigit(value.charCodeAt(54)) & 1) === 1;
}

/** `<trace>-<span>[-<sampled>[-<parent>]]`, or the decision alone (`0`, `1`, `d`). */
function readB3Single(value: string | string[], into: TraceFields): void {
  if (typeof value !== 'string') return;
  if (value.length === 1) {
    const sampled = b3Sampled(value);
    if (sampled !== undefined) into.traceSampled = sampled;
    return;
  }
  const dash = value.indexOf('-');
  const traceId = b3TraceId(value, 0, dash);
  if (traceId === undefined || value.length < dash + 17 || !isHex(value, dash + 1, dash + 17)) return;
  const spanId = value.slice(dash + 1, dash + 17);
  let sampled: boolean | undefined;
  if (value.length > dash + 17) {
    // `-<sampled>` and optionally `-<parent span id>` (16 hex).
    if (value.charCodeAt(dash + 17) !== 45 || value.length < dash + 19) return;
    sampled = b3Sampled(value[dash + 18]);
    if (sampled === undefined) return;
    const rest = value.length - (dash + 19);
    if (rest !== 0 && (rest !== 17 || value.charCodeAt(dash + 19) !== 45 || !isHex(value, dash + 20, value.length))) return;
  }
  if (spanId === ZERO_SPAN) return;
  into.traceId = traceId;
  into.parentSpanId = spanId;
  into.traceSampled = sampled;
}

function readB3Multi(h: IncomingHttpHeaders, into: TraceFields): void {
  const flags = h['x-b3-flags'];
  const sampledValue = h['x-b3-sampled'];
  let sampled: boolean | undefined = flags === '1' ? true : undefined;
  if (sampled === undefined && typeof sampledValue === 'string') {
    sampled = sampledValue === '1' || sampledValue === 'true' ? true : sampledValue === '0' || sampledValue === 'false' ? false : undefined;
  }
  const trace = h['x-b3-traceid'];
  const span = h['x-b3-spanid'];
  const traceId = typeof trace === 'string' ? b3TraceId(trace, 0, trace.length) : undefined;
  if (traceId !== undefined && typeof span === 'string' && span.length === 16 && isHex(span, 0, 16) && span !== ZERO_SPAN) {
    into.traceId = traceId;
    into.parentSpanId = span;
  }
  into.traceSampled = sampled;
}

/** `Root=1-<8 hex time>-<24 hex random>;Parent=<16 hex>;Sampled=<0|1|?>`, fields in any order. */
function readXray(value: string | string[], into: TraceFields): void {
  if (typeof value !== 'string') return;
  let traceId: string | undefined;
  let parent: string | undefined;
  let sampled: boolean | undefined;
  let start = 0;
  while (start < value.length) {
    let end = value.indexOf(';', start);
    if (end < 0) end = value.length;
    while (start < end && value.charCodeAt(start) === 32) start++;
    if (value.startsWith('Root=', start)) {
      // X-Ray's trace id is its time and random parts joined: the W3C id (as X-Ray converts it).
      const r = start + 5;
      if (end - r !== 35 || value.charCodeAt(r) !== 49 || value.charCodeAt(r + 1) !== 45 || value.charCodeAt(r + 10) !== 45) return;
      if (!isHex(value, r + 2, r + 10) || !isHex(value, r + 11, r + 35)) return;
      traceId = value.slice(r + 2, r + 10) + value.slice(r + 11, r + 35);
    } else if (value.startsWith('Parent=', start)) {
      if (end - start - 7 !== 16 || !isHex(value, start + 7, end)) return;
      parent = value.slice(start + 7, end);
    } else if (value.startsWith('Sampled=', start)) {
      const v = value[start + 8];
      sampled = v === '1' ? true : v === '0' ? false : undefined;
    }
    start = end + 1;
  }
  if (traceId === undefined || traceId === ZERO_TRACE) return;
  into.traceId = traceId;
  into.parentSpanId = parent === ZERO_SPAN ? undefined : parent;
  into.traceSampled = sampled;
}

/** A B3 trace id of 16 or 32 hex digits at [start, end), as 32; undefined when malformed. */
function b3TraceId(value: string, start: number, end: number): string | undefined {
  const n = end - start;
  if ((n !== 16 && n !== 32) || !isHex(value, start, end)) return undefined;
  const id = n === 32 ? value.slice(start, end) : B3_HIGH_ZEROS + value.slice(start, end);
  return id === ZERO_TRACE ? undefined : id;
}

function b3Sampled(c: string): boolean | undefined {
  return c === '1' || c === 'd' ? true : c === '0' ? false : undefined;
}

/** Lowercase hex digits only (W3C and X-Ray ids are lowercase). */
function isHex(s: string, start: number, end: number): boolean {
  if (end > s.length) return false;
  for (let i = start; i < end; i++) if (hexDigit(s.charCodeAt(i)) < 0) return false;
  return true;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
