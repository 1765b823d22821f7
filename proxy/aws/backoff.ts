/**
 * Timing shared by the AWS pollers: a jittered poll interval and an exponential backoff for
 * failures. Jitter keeps a fleet of sidecars that started together (a deployment) from calling
 * the same API in lockstep; the backoff slows a sidecar down while an API throttles or is away.
 */

/** A source of numbers in [0, 1); injectable so tests can pin the jitter. */
export type Random = () => number;

/** `ms` spread uniformly over ±`fraction` (±20% by default). */
export function jittered(ms: number, random: Random = Math.random, fraction = 0.2): number {
  return Math.max(0, Math.round(ms * (1 - fraction + 2 * fraction * random())));
}

export interface BackoffOptions {
  /** Delay step of the first failure (before jitter). Default 1 s. */
  baseMs?: number;
  /** Largest delay step (before jitter). Default 60 s. */
  capMs?: number;
  random?: Random;
}

export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 60_000;

/**
 * Exponential backoff with "equal jitter": the n-th consecutive failure waits between half and all
 * of min(cap, base·2^(n-1)). Half is fixed so the delay reliably grows; half is random so
 * sidecars throttled together do not retry together.
 */
export class Backoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: Random;
  private count = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = Math.max(1, opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS);
    this.capMs = Math.max(this.baseMs, opts.capMs ?? DEFAULT_BACKOFF_CAP_MS);
    this.random = opts.random ?? Math.random;
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    this.count++;
    // Bound the exponent: 2^31 steps would overflow long before the cap matters.
    const step = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.count - 1, 30));
    return Math.round(step / 2 + (step / 2) * this.random());
  }

  /** Records a success: the next failure starts from the base again. */
  reset(): void {
    this.count = 0;
  }
}
