/**
 * The sidecar's random source for route decisions (weighted targets, fault injection, mirroring) and load balancing (random,
 * least-request's two choices): `Math.random`, or with
 * `WEFT_RANDOM_SEED` a seeded generator, so that two runs given the same seed and the same
 * requests make the same choices. Tests use the same generator for their random inputs.
 */

/**
 * A deterministic uniform [0, 1) source (mulberry32: 32 bits of state, fast, well spread; not for
 * secrets). The seed is taken modulo 2^32.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `seededRandom(seed)` when a seed is set, otherwise `Math.random`. */
export function randomSource(seed: number | undefined): () => number {
  return seed === undefined ? Math.random : seededRandom(seed);
}
