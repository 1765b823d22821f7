/**
 * A fast non-cryptographic 32-bit string hash for consistent hashing: FNV-1a over UTF-16 code units
 * with MurmurHash3's final mix, because plain FNV-1a spreads short, similar keys (`host_0`,
 * `host_1`, ...) poorly around a ring. Incremental so that callers hash slices without copying.
 */

/** FNV-1a offset basis: the state before any input. */
export const HASH_SEED = 0x811c9dc5;

/** Feeds `s[start, end)` into the hash state. */
export function hashUpdate(state: number, s: string, start: number, end: number): number {
  let h = state;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** Feeds one UTF-16 code unit (a separator) into the hash state. */
export function hashUpdateChar(state: number, code: number): number {
  return Math.imul(state ^ code, 0x01000193);
}

/** Turns a hash state into an unsigned 32-bit hash. */
export function hashFinish(state: number): number {
  let h = state;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a whole string. */
export function hashString(s: string): number {
  return hashFinish(hashUpdate(HASH_SEED, s, 0, s.length));
}
