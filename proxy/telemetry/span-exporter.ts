/**
 * The span half of tracing: a record sink that queues the completion records of sampled requests
 * and exports them as spans to the collector over OTLP/HTTP (protobuf), off the request path.
 *
 * Bounds, so that a slow or dead collector costs a fixed amount:
 * - the queue holds at most `maxQueue` records; a record past it is dropped and counted;
 * - a batch is sent when `maxBatch` records wait, or every `intervalMs` when fewer do;
 * - one export is in flight at a time, and each is cut after `timeoutMs`;
 * - a failed export (refused, timed out, a non-2xx answer) drops its batch (counted) and holds
 *   the next one back by an exponential backoff (1 s doubling to 30 s, jittered);
 * - at shutdown, what is queued is sent within the time the drain leaves.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Backoff } from '../aws/backoff';
import type { CompletionRecord, RecordSink } from '../exchange/record';
import type { Logger } from '../log';
import { encodeSpans, ProtoWriter, type SpanSource } from './otlp-encoder';

export interface SpanExporterOptions {
  /** The collector's OTLP/HTTP traces URL in force; undefined while tracing is off. */
  endpoint: () => string | undefined;
  source: () => SpanSource;
  logger: Logger;
  random?: () => number;
  /** Records queued at most. Default 2,048. */
  maxQueue?: number;
  /** Spans per export at most. Default 512. */
  maxBatch?: number;
  /** How often a partial batch is sent. Default 5 s. */
  intervalMs?: number;
  /** How long an export may take. Default 10 s. */
  timeoutMs?: number;
}

/** What `/stats` and `/stats/prometheus` show of the exporter. */
export interface SpanExporterStats {
  queued: number;
  exported: number;
  dropped: number;
  exportFailures: number;
  inFlight: boolean;
}

export const SPAN_QUEUE_DEFAULTS = { maxQueue: 2_048, maxBatch: 512, intervalMs: 5_000, timeoutMs: 10_000 } as const;

const BACKOFF = { baseMs: 1_000, capMs: 30_000 };
/** A shorter interval would spin the timer for nothing. */
const MIN_INTERVAL_MS = 10;

export class SpanExporter {
  private readonly queue: CompletionRecord[] = [];
  private readonly writer = new ProtoWriter();
  private readonly backoff: Backoff;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private exported = 0;
  private dropped = 0;
  private failures = 0;
  /** The export in flight, resolved when it ends however it ends. */
  private inFlight: Promise<void> | undefined;
  private current: ClientRequest | undefined;
  /** No export before this time (backoff after a failure). */
  private holdUntil = 0;
  private scheduled = false;
  private closed = false;

  constructor(private readonly opts: SpanExporterOptions) {
    this.maxQueue = opts.maxQueue ?? SPAN_QUEUE_DEFAULTS.maxQueue;
    this.maxBatch = opts.maxBatch ?? SPAN_QUEUE_DEFAULTS.maxBatch;
    this.timeoutMs = opts.timeoutMs ?? SPAN_QUEUE_DEFAULTS.timeoutMs;
    this.backoff = new Backoff({ ...BACKOFF, random: opts.random });
    this.timer = setInterval(this.tick, Math.max(MIN_INTERVAL_MS, opts.intervalMs ?? SPAN_QUEUE_DEFAULTS.intervalMs));
    this.timer.unref();
  }

  /** The record sink: sampled records with a span are queued; everything else costs two reads. */
  readonly record: RecordSink = (r) => {
    if (r.traceSampled !== true || r.spanId === undefined) return;
    if (this.queue.length >= this.maxQueue || this.closed) {
      this.dropped++;
      return;
    }
    this.queue.push(r);
    if (this.queue.length >= this.maxBatch && !this.scheduled) {
      this.scheduled = true;
      // A full batch goes out at once, but never from inside the request that filled it.
      setImmediate(this.tick);
    }
  };

  stats(): SpanExporterStats {
    return { queued: this.queue.length, exported: this.exported, dropped: this.dropped, exportFailures: this.failures, inFlight: this.inFlight !== undefined };
  }

  /**
   * Stops taking spans and sends what is queued until `deadline` (a `Date.now()` time): batch
   * after batch, without backoff, an export in flight at the deadline cut. What is left is dropped.
   */
  async close(deadline: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const cut = setTimeout(() => this.current?.destroy(), Math.max(0, deadline - Date.now()));
    try {
      for (;;) {
        if (this.inFlight !== undefined) await this.inFlight;
        if (this.queue.length === 0 || Date.now() >= deadline || this.opts.endpoint() === undefined) break;
        this.holdUntil = 0;
        this.send();
      }
    } finally {
      clearTimeout(cut);
      this.dropped += this.queue.length;
      this.queue.length = 0;
    }
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    if (this.closed || this.inFlight !== undefined || this.queue.length === 0 || Date.now() < this.holdUntil) return;
    this.send();
  };

  /** Sends the next batch; its outcome settles the counters and the backoff. */
  private send(): void {
    const endpoint = this.opts.endpoint();
    if (endpoint === undefined) {
      // Tracing was turned off with spans queued: they will not be sent.
      this.dropped += this.queue.length;
      this.queue.length = 0;
      return;
    }
    const n = Math.min(this.maxBatch, this.queue.length);
    let body: Buffer;
    let url: URL;
    try {
      url = new URL(endpoint);
      body = encodeSpans(this.writer, this.opts.source(), this.queue, 0, n);
    } catch (err) {
      this.queue.splice(0, n);
      this.failed(n, err);
      return;
    }
    this.queue.splice(0, n);
    this.inFlight = new Promise<void>((resolve) => {
      const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
      let settled = false;
      const done = (ok: boolean, why: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.current = undefined;
        this.inFlight = undefined;
        if (ok) {
          this.exported += n;
          this.backoff.reset();
          if (this.queue.length >= this.maxBatch && !this.closed) setImmediate(this.tick);
        } else {
          this.failed(n, why);
        }
        resolve();
      };
      let answered = false;
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        res.resume();
        // 'close' follows 'end' and also comes when the answer is cut: complete tells them apart.
        res.on('close', () => done(res.complete && status >= 200 && status < 300, res.complete ? `collector answered ${status}` : 'answer cut'));
      });
      this.current = req;
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (err) => done(false, err));
      req.on('close', () => {
        if (!answered) done(false, 'connection closed');
      });
      req.end(body);
    });
  }

  private failed(n: number, why: unknown): void {
    this.failures++;
    this.dropped += n;
    const waitMs = this.backoff.next();
    this.holdUntil = Date.now() + waitMs;
    // One line per failure: failures are themselves held back by the backoff.
    this.opts.logger.log('warn', 'span_export_failed', { spans: n, retryInMs: waitMs, consecutive: this.backoff.failures, message: why instanceof Error ? why.message : String(why) });
  }
}
