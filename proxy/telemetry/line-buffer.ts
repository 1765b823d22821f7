/**
 * A bounded buffer of output lines flushed asynchronously. Stdout under the ECS log driver is a
 * pipe, and Node writes pipes synchronously on Linux: a slow reader would stall the event loop.
 * Lines are queued (up to `maxBytes`) and written by one asynchronous `fs.write` at a time (on
 * libuv's thread pool); past the bound, lines are dropped and counted, never waited for.
 */
import { close as closeFd, open, write as fsWrite } from 'node:fs';

export type ChunkWriter = (chunk: Buffer, done: (err: Error | null) => void) => void;

/** Writes to an open file descriptor off the event loop. */
export function fdWriter(fd: number): ChunkWriter {
  return (chunk, done) => {
    let offset = 0;
    const next = (): void =>
      fsWrite(fd, chunk, offset, chunk.length - offset, null, (err, written) => {
        if (err) return done(err);
        offset += written;
        if (offset < chunk.length) next();
        else done(null);
      });
    next();
  };
}

/** Writes to file descriptor 1 off the event loop. */
export const stdoutWriter: ChunkWriter = fdWriter(1);

/**
 * Appends to the file at `path`, opened (created if need be) on the first chunk; a failed open
 * fails that chunk and is tried again with the next.
 */
export function appendFileWriter(path: string): ChunkWriter & { close(): void } {
  let write: ChunkWriter | undefined;
  let fd: number | undefined;
  const writer = (chunk: Buffer, done: (err: Error | null) => void): void => {
    if (write !== undefined) return write(chunk, done);
    open(path, 'a', (err, opened) => {
      if (err) return done(err);
      fd = opened;
      write = fdWriter(opened);
      write(chunk, done);
    });
  };
  return Object.assign(writer, {
    close(): void {
      if (fd !== undefined) closeFd(fd, () => undefined);
      fd = undefined;
      write = undefined;
    },
  });
}

export class LineBuffer {
  /** Lines dropped because the buffer was full (or the writer failed). */
  dropped = 0;
  written = 0;
  private queue: string[] = [];
  private queuedBytes = 0;
  private writing = false;

  constructor(
    private readonly writer: ChunkWriter = stdoutWriter,
    private readonly maxBytes = 1024 * 1024,
  ) {}

  /** Queues one line (without its newline); false when it was dropped. */
  push(line: string): boolean {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.queuedBytes + bytes > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(line);
    this.queuedBytes += bytes;
    if (!this.writing) this.flush();
    return true;
  }

  /** True when nothing is queued or being written. */
  get idle(): boolean {
    return !this.writing && this.queue.length === 0;
  }

  private flush(): void {
    const lines = this.queue;
    this.queue = [];
    this.writing = true;
    this.writer(Buffer.from(`${lines.join('\n')}\n`), (err) => {
      this.queuedBytes -= lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
      if (err) this.dropped += lines.length;
      else this.written += lines.length;
      this.writing = false;
      if (this.queue.length > 0) this.flush();
    });
  }
}
