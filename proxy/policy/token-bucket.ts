/**
 * Envoy's token bucket: it starts full with `maxTokens`, and every `fillIntervalMs` it gains
 * `tokensPerFill`, up to `maxTokens`; a request takes one token or is refused.
 *
 * Fills are computed when a token is asked for, from a monotonic clock (milliseconds), so a
 * bucket needs no timer and an idle one costs nothing; taking a token allocates nothing.
 */

/** A bucket's parameters (the node config's `rateLimit`, or one of its `perKey` limits). */
export interface BucketShape {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

export class TokenBucket {
  private tokens: number;
  /** When the next fill is due (clock milliseconds). */
  private nextFill: number;

  constructor(
    private readonly shape: BucketShape,
    now: number,
  ) {
    this.tokens = shape.maxTokens;
    this.nextFill = now + shape.fillIntervalMs;
  }

  /** Takes a token if there is one at `now`. */
  take(now: number): boolean {
    if (now >= this.nextFill) this.fill(now);
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Gives back a token taken by a request that another bucket then refused (never above the cap). */
  untake(): void {
    if (this.tokens < this.shape.maxTokens) this.tokens++;
  }

  /** Milliseconds from `now` until the next fill (when a refused caller may get a token again). */
  msUntilFill(now: number): number {
    return Math.max(0, this.nextFill - now);
  }

  /** Full again, as a new bucket at `now` (a key table reuses an evicted bucket for a new key). */
  reset(now: number): void {
    this.tokens = this.shape.maxTokens;
    this.nextFill = now + this.shape.fillIntervalMs;
  }

  private fill(now: number): void {
    const { maxTokens, tokensPerFill, fillIntervalMs } = this.shape;
    const fills = Math.floor((now - this.nextFill) / fillIntervalMs) + 1;
    this.tokens = Math.min(maxTokens, this.tokens + fills * tokensPerFill);
    this.nextFill += fills * fillIntervalMs;
  }
}
