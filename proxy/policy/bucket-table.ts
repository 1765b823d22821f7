/**
 * The buckets of a keyed rate limit: one per distinct key, at most `maxKeys` of them. When the
 * table is full, a new key takes the bucket of the least recently used one, reset to full, so any
 * number of distinct keys (a scan, spoofed headers) never grows memory past the cap.
 *
 * A Map keeps insertion order: touching a key moves it to the end (delete, set), so the first
 * key is always the least recently used. A lookup of a known key allocates nothing.
 */
import { TokenBucket, type BucketShape } from './token-bucket';

export class BucketTable {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly shape: BucketShape,
    readonly maxKeys: number,
  ) {}

  /** The bucket of `key`, created (or taken over from the least recently used key) at `now`. */
  bucket(key: string, now: number): TokenBucket {
    const buckets = this.buckets;
    let b = buckets.get(key);
    if (b !== undefined) {
      buckets.delete(key);
      buckets.set(key, b);
      return b;
    }
    if (buckets.size >= this.maxKeys) {
      const oldest = buckets.keys().next().value as string;
      b = buckets.get(oldest)!;
      buckets.delete(oldest);
      b.reset(now);
    } else {
      b = new TokenBucket(this.shape, now);
    }
    buckets.set(key, b);
    return b;
  }

  get size(): number {
    return this.buckets.size;
  }
}
