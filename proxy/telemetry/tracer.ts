/**
 * The per-request half of tracing: on each forwarded request, read the caller's trace context,
 * start a trace where there is none (sampled at the configured rate), give this hop a new span id
 * and write the context on for the next hop. The span itself is written later, from the
 * completion record ({@link SpanExporter}).
 *
 * Off (no `tracing` in the node config): one property read per request. On: one draw of the
 * sidecar's random source per new trace (so `WEFT_RANDOM_SEED` repeats the sampling decisions),
 * a span id (and a trace id for a new trace) from a pooled buffer of crypto-random bytes, and the
 * outgoing header strings.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Tracing } from '../contracts/node-config';
import type { CompletionRecord } from '../exchange/record';
import type { OutgoingHeaders } from '../message/headers';
import { readTraceContext, TRACE_FORMATS, writeTraceContext } from '../message/trace-context';

/** Random bytes taken for ids at a time: 512 span ids' worth per refill. */
const ID_POOL_BYTES = 4096;

/**
 * Trace and span ids from crypto-random bytes (not the seeded source: two sidecars with the same
 * seed must not make the same ids), refilled in blocks so an id costs its string only.
 */
export class TraceIds {
  private readonly pool = Buffer.allocUnsafe(ID_POOL_BYTES);
  private at = ID_POOL_BYTES;

  /** 16 hex digits, never all zero. */
  spanId(): string {
    return this.hex(8);
  }

  /** 32 hex digits, never all zero. */
  traceId(): string {
    return this.hex(16);
  }

  private hex(bytes: number): string {
    for (;;) {
      if (this.at + bytes > ID_POOL_BYTES) {
        randomFillSync(this.pool);
        this.at = 0;
      }
      const start = this.at;
      this.at += bytes;
      // An all-zero id is invalid in W3C and B3 (odds 2^-64; checked rather than assumed).
      for (let i = start; i < start + bytes; i++) if (this.pool[i] !== 0) return this.pool.toString('hex', start, start + bytes);
    }
  }
}

export class Tracer {
  /** Sampling rate of new traces as a fraction; -1 while tracing is off. */
  private rate = -1;
  private readonly ids = new TraceIds();

  constructor(private readonly random: () => number) {}

  /** True while the config in force has tracing. */
  get on(): boolean {
    return this.rate >= 0;
  }

  /** Applies a config's tracing section (undefined: off). */
  configure(tracing: Tracing | undefined): void {
    this.rate = tracing === undefined ? -1 : tracing.samplingPercentage / 100;
  }

  /**
   * Sets the record's trace fields from the request (`incoming`) and writes the next hop's context
   * into `out`, the headers being sent on.
   */
  propagate(record: CompletionRecord, incoming: IncomingHttpHeaders, out: OutgoingHeaders): void {
    const rate = this.rate;
    if (rate < 0) return;
    const formats = readTraceContext(incoming, record);
    if (record.traceId === undefined) {
      record.traceId = this.ids.traceId();
      record.parentSpanId = undefined;
    }
    // A caller's decision is kept (parent-based sampling); a new decision is one draw.
    if (record.traceSampled === undefined) record.traceSampled = rate >= 1 || (rate > 0 && this.random() < rate);
    const spanId = (record.spanId = this.ids.spanId());
    writeTraceContext(out, formats | TRACE_FORMATS.w3c, record.traceId, spanId, record.parentSpanId, record.traceSampled);
  }
}
