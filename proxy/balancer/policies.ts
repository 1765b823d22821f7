/**
 * The load-balancing policies that need no request data: round robin, least request and random.
 * `update()` computes the candidate set and per-policy tables; `pick()` only reads them and
 * allocates nothing.
 */
import type { Endpoint } from '../endpoints/endpoint';
import type { Balancer, PickContext } from './balancer';
import { selectCandidates, weightOf, type ZoneAware } from './candidates';

/** Shared update: candidates, their weights and whether the weights are all equal. */
export abstract class CandidateBalancer implements Balancer {
  protected candidates: Endpoint[] = [];
  protected weights: Float64Array = new Float64Array(0);
  protected totalWeight = 0;
  protected uniform = true;

  constructor(
    private readonly zoneAware: ZoneAware | undefined,
    private readonly localZone: string | undefined,
    protected readonly random: () => number,
  ) {}

  update(endpoints: readonly Endpoint[]): void {
    const candidates = selectCandidates(endpoints, this.zoneAware, this.localZone);
    const weights = new Float64Array(candidates.length);
    let total = 0;
    let uniform = true;
    for (let i = 0; i < candidates.length; i++) {
      weights[i] = weightOf(candidates[i]);
      total += weights[i];
      if (weights[i] !== weights[0]) uniform = false;
    }
    this.candidates = candidates;
    this.weights = weights;
    this.totalWeight = total;
    this.uniform = uniform;
    this.rebuild();
  }

  /** Rebuilds the policy's own tables after the candidates changed. */
  protected abstract rebuild(): void;

  abstract pick(ctx: PickContext): Endpoint | undefined;

  /** A uniform index in [0, n), robust to a `random` that returns 1. */
  protected randomIndex(n: number): number {
    const i = Math.floor(this.random() * n);
    return i < n ? i : n - 1;
  }
}

/** Largest smooth weighted round-robin cycle precomputed at update (its cost is cycle × endpoints). */
const MAX_SCHEDULE_WORK = 1 << 20;

/**
 * Round robin. Equal weights: strict rotation. Unequal weights: smooth weighted round robin (as
 * nginx), which interleaves picks (weights 5,1,1 give a a b a c a a, not a a a a a b c).
 * The smooth sequence repeats every `sum of weights` picks, so update() computes one cycle and
 * pick() just walks it; only when that cycle would be too costly to precompute does pick() run the
 * O(n) algorithm live. The walk starts at a random offset so that sidecars started together do not
 * all send their first requests to the same endpoint.
 */
export class RoundRobinBalancer extends CandidateBalancer {
  /** Candidate indices of one cycle; empty when running live. */
  private schedule: Int32Array = new Int32Array(0);
  /** Next position in the schedule; -1 until the first non-empty update. */
  private next = -1;
  /** Smooth weighted round robin state, for the live fallback only. */
  private current: Float64Array = new Float64Array(0);

  protected rebuild(): void {
    const n = this.candidates.length;
    this.current = new Float64Array(n);
    this.schedule = this.uniform ? identity(n) : this.smoothCycle();
    const len = this.schedule.length;
    if (len > 0) this.next = this.next < 0 ? this.randomIndex(len) : this.next % len;
  }

  /** One cycle of smooth weighted round robin, or an empty array when it is too costly to precompute. */
  private smoothCycle(): Int32Array {
    const weights = this.weights;
    const n = weights.length;
    for (let i = 0; i < n; i++) if (!Number.isInteger(weights[i])) return new Int32Array(0);
    if (this.totalWeight * n > MAX_SCHEDULE_WORK) return new Int32Array(0);
    const cycle = new Int32Array(this.totalWeight);
    for (let p = 0; p < cycle.length; p++) cycle[p] = this.smoothStep();
    return cycle;
  }

  /** One step of smooth weighted round robin: every candidate gains its weight, the richest pays the total. */
  private smoothStep(): number {
    const current = this.current;
    const weights = this.weights;
    let best = 0;
    for (let i = 0; i < current.length; i++) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= this.totalWeight;
    return best;
  }

  pick(): Endpoint | undefined {
    const n = this.candidates.length;
    if (n === 0) return undefined;
    const schedule = this.schedule;
    if (schedule.length === 0) return this.candidates[this.smoothStep()];
    const p = this.next;
    this.next = p + 1 === schedule.length ? 0 : p + 1;
    return this.candidates[schedule[p]];
  }
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * Least request by the power of two choices: two distinct random candidates, the one with the lower
 * `(active + 1) / weight` wins (Envoy's weighted least-request score with active-request bias 1).
 */
export class LeastRequestBalancer extends CandidateBalancer {
  protected rebuild(): void {}

  pick(): Endpoint | undefined {
    const n = this.candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return this.candidates[0];
    const a = this.randomIndex(n);
    let b = this.randomIndex(n - 1);
    if (b >= a) b++;
    const ea = this.candidates[a];
    const eb = this.candidates[b];
    return (eb.active + 1) * this.weights[a] < (ea.active + 1) * this.weights[b] ? eb : ea;
  }
}

/** Weighted random. */
export class RandomBalancer extends CandidateBalancer {
  private cumulative: Float64Array = new Float64Array(0);

  protected rebuild(): void {
    this.cumulative = cumulativeOf(this.weights);
  }

  pick(): Endpoint | undefined {
    const n = this.candidates.length;
    if (n === 0) return undefined;
    if (this.uniform) return this.candidates[this.randomIndex(n)];
    return this.candidates[weightedIndex(this.cumulative, this.random() * this.totalWeight)];
  }
}

/** Running sums of `weights`. */
export function cumulativeOf(weights: Float64Array): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) out[i] = sum += weights[i];
  return out;
}

/** The first index whose running sum exceeds `x` (binary search); the last index when none does. */
export function weightedIndex(cumulative: Float64Array, x: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
