/**
 * The access log: one line per completion record (request or TCP connection), in the format and
 * at the sampling rate of the node config's `logging.accessLog`, written through a bounded buffer
 * flushed asynchronously ({@link LineBuffer}). `/dev/stdout` and `/dev/stderr` are the process's
 * own descriptors (pipes under the ECS log driver, which Node writes synchronously: hence the
 * buffer); any other path is a file opened for appending. A slow consumer costs dropped lines,
 * counted, never a stalled event loop.
 *
 * Everything is prepared when a config is applied; per record, the sampling draw and the line.
 */
import type { NodeConfig } from '../contracts/node-config';
import type { CompletionRecord } from '../exchange/record';
import { compileAccessLogLine, type LineOf } from './access-log-line';
import { appendFileWriter, fdWriter, LineBuffer, type ChunkWriter } from './line-buffer';

export type AccessLogConfig = NodeConfig['logging']['accessLog'];

/** The descriptor of a path the process already has open. */
const STANDARD_FDS: Record<string, number> = { '/dev/stdout': 1, '/dev/stderr': 2 };

export interface AccessLogOptions {
  /** Random numbers in [0, 1) for sampling (seeded by WEFT_RANDOM_SEED). */
  random: () => number;
  /** The writer of a path (default: its descriptor, or the file appended to). */
  writerFor?: (path: string) => ChunkWriter;
  /** Bytes queued per path before lines are dropped. */
  maxBufferedBytes?: number;
}

export class AccessLog {
  private line: LineOf | undefined;
  /** Share of records logged, in [0, 1]. */
  private sample = 1;
  private buffer: LineBuffer | undefined;
  private applied: string | undefined;
  private closeWriter: (() => void) | undefined;
  /** Lines dropped by buffers of earlier configs' paths. */
  private droppedBefore = 0;

  constructor(private readonly opts: AccessLogOptions) {}

  /** Compiles the format of a config being applied; the same access log config keeps its buffer. */
  apply(config: AccessLogConfig): void {
    const key = config === undefined ? undefined : JSON.stringify(config);
    if (key === this.applied) return;
    const line = config === undefined ? undefined : compileAccessLogLine(config.format);
    this.applied = key;
    this.line = line;
    this.sample = (config?.samplePercent ?? 100) / 100;
    if (config?.path !== this.path) this.open(config?.path);
  }

  /** The record sink: the line of `record`, when sampled. */
  readonly record = (record: CompletionRecord): void => {
    const line = this.line;
    if (line === undefined) return;
    if (this.sample < 1 && !(this.opts.random() < this.sample)) return;
    this.buffer!.push(line(record));
  };

  /** Lines dropped so far: the buffer was full or the write failed. */
  get dropped(): number {
    return this.droppedBefore + (this.buffer?.dropped ?? 0);
  }

  /** Lines written so far by the current path's buffer. */
  get written(): number {
    return this.buffer?.written ?? 0;
  }

  /** True when nothing is queued or being written. */
  get idle(): boolean {
    return this.buffer?.idle ?? true;
  }

  close(): void {
    this.open(undefined);
  }

  private path: string | undefined;

  private open(path: string | undefined): void {
    this.droppedBefore += this.buffer?.dropped ?? 0;
    this.closeWriter?.();
    this.closeWriter = undefined;
    this.buffer = undefined;
    this.path = path;
    if (path === undefined) return;
    let writer: ChunkWriter;
    if (this.opts.writerFor !== undefined) writer = this.opts.writerFor(path);
    else if (STANDARD_FDS[path] !== undefined) writer = fdWriter(STANDARD_FDS[path]);
    else {
      const file = appendFileWriter(path);
      this.closeWriter = () => file.close();
      writer = file;
    }
    this.buffer = new LineBuffer(writer, this.opts.maxBufferedBytes);
  }
}
