/**
 * A request body that can be read more than once, up to a bound: the client's body is read once
 * and kept while it fits, and each reader (the first attempt, a retry's attempt, a mirror) gets
 * it from its first byte, the kept part replayed and the rest as it arrives. Only a layer that
 * may send the body twice asks for this; every other request streams its body straight through.
 * Past the bound nothing more is kept: readers still following the live source finish normally,
 * but no new reader can be made (such a body is sent once, never retried).
 */
import { Readable } from 'node:stream';

export class BodyReplay {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private ended = false;
  private failed: Error | undefined;
  /** More arrived than `limit`: the copy is incomplete, only readers created before still work. */
  private overflowed = false;
  private readonly readers = new Set<ReplayReader>();

  constructor(
    /** The client's body (its trailers, once it ended, are every reader's). */
    readonly source: Readable,
    private readonly limit: number,
  ) {
    source.pause();
    source.on('data', (chunk: Buffer) => this.onChunk(chunk));
    source.once('end', () => {
      this.ended = true;
      for (const r of this.readers) this.pump(r);
    });
    source.once('error', (err: Error) => {
      this.failed = err;
      for (const r of this.readers) r.destroy(err);
    });
  }

  /** Bytes of the body seen so far. */
  get bytes(): number {
    return this.kept;
  }

  /**
   * A new reader of the whole body, or undefined when more than the limit had to be kept.
   * `wholeOrNothing`: the reader fails as soon as the body grows past the limit, even if it could
   * follow the rest live (a mirror's copy, which must not pace or outlast the client's body).
   */
  reader(wholeOrNothing = false): Readable | undefined {
    if (this.overflowed) return undefined;
    const r = new ReplayReader(this, wholeOrNothing);
    this.readers.add(r);
    r.once('close', () => this.readers.delete(r));
    return r;
  }

  /** Serves `r` what it has not had yet; asks the source for more when `r` has had everything. */
  pump(r: ReplayReader): void {
    if (this.failed !== undefined) {
      r.destroy(this.failed);
      return;
    }
    while (r.next < this.chunks.length) {
      const chunk = this.chunks[r.next++];
      if (!r.push(chunk)) return;
    }
    if (this.ended) {
      r.push(null);
      return;
    }
    r.waiting = true;
    this.source.resume();
  }

  private onChunk(chunk: Buffer): void {
    this.kept += chunk.length;
    if (this.kept > this.limit) {
      this.overflowed = true;
      // Readers that had everything so far take the chunk live; older chunks are still served from
      // the list to readers behind them, so it is kept, but nothing new is added to it.
      for (const r of this.readers) {
        if (r.wholeOrNothing) r.destroy(new Error('request body grew past the replay limit'));
        else if (r.next === this.chunks.length) {
          r.waiting = false;
          r.push(chunk);
        } else r.destroy(new Error('request body grew past the replay limit while a reader was behind'));
      }
    } else {
      this.chunks.push(chunk);
      for (const r of this.readers) if (r.waiting) {
        r.waiting = false;
        this.pump(r);
      }
    }
    // Flow on only while some reader wants more.
    let wanted = false;
    for (const r of this.readers) if (r.waiting || r.readableLength < r.readableHighWaterMark) wanted = true;
    if (!wanted) this.source.pause();
  }
}

class ReplayReader extends Readable {
  /** Index of the next kept chunk this reader has not had. */
  next = 0;
  /** It has had everything kept and waits for the source. */
  waiting = false;

  constructor(
    private readonly replay: BodyReplay,
    readonly wholeOrNothing: boolean,
  ) {
    super();
  }

  /** The client's trailers, for the upstream that sends them on (they arrive with the body's end). */
  get trailers(): unknown {
    return (this.replay.source as Readable & { trailers?: unknown }).trailers;
  }

  override _read(): void {
    this.replay.pump(this);
  }
}
