/**
 * The buckets of a keyed rate limit: one per distinct key, at most `maxKeys` of them. When the
 * table is full, a new key takes over the bucket of a key not used lately, reset to full, so any
 * number of distinct keys (a scan, spoofed headers) never grows memory past the cap.
 *
 * Eviction is CLOCK (second chance), an approximation of least recently used that costs a known
 * key's lookup nothing but setting a bit: a Map keeps insertion order, the eviction hand walks it
 * from the oldest key, moves a key used since the hand last passed to the back (clearing its bit)
 * and evicts the first that was not.
 */
import { TokenBucket, type BucketShape } from './token-bucket';

class Slot {
  /** A new key starts unused: a key seen once (a scan) goes before keys that come back. */
  used = false;
  constructor(readonly bucket: TokenBucket) {}
}

export class BucketTable {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly shape: BucketShape,
    readonly maxKeys: number,
  ) {}

  /** The bucket of `key`, created (or taken over from a key not used lately) at `now`. */
  bucket(key: string, now: number): TokenBucket {
    const found = this.slots.get(key);
    if (found !== undefined) {
      found.used = true;
      return found.bucket;
    }
    let slot: Slot;
    if (this.slots.size >= this.maxKeys) {
      slot = this.evict();
      slot.bucket.reset(now);
    } else {
      slot = new Slot(new TokenBucket(this.shape, now));
    }
    this.slots.set(key, slot);
    return slot.bucket;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Removes a key not used since the hand last passed it, and returns its slot. */
  private evict(): Slot {
    const slots = this.slots;
    // Terminates: a slot moved to the back has its bit cleared, so the second pass evicts.
    for (const [key, slot] of slots) {
      slots.delete(key);
      if (!slot.used) return slot;
      slot.used = false;
      slots.set(key, slot);
    }
    throw new Error('unreachable: an empty table is never full');
  }
}
