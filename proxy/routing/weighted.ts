/**
 * Weighted target draws. Weights are used as written (90 and 10 send 90% to the first) and a
 * zero-weight target is never drawn.
 */
import type { WeightedTarget } from '../contracts/node-config';
import type { ContractIssue } from '../contracts/validation';

export interface WeightedClusters {
  clusters: string[];
  /** Running sums of the weights; target i is drawn when `random × total` falls below `cumulative[i]`. */
  cumulative: number[];
  total: number;
  /** The last positive-weight cluster, for a `random` of 1 or above. */
  last: string;
}

export function compileWeightedTargets(targets: readonly WeightedTarget[], where: string, issues: ContractIssue[]): WeightedClusters {
  const clusters: string[] = [];
  const cumulative: number[] = [];
  let total = 0;
  let last = '';
  for (const t of targets) {
    total += t.weight;
    clusters.push(t.cluster);
    cumulative.push(total);
    if (t.weight > 0) last = t.cluster;
  }
  if (total === 0) issues.push({ path: where, message: 'at least one weighted target needs a weight above 0, got: all weights 0' });
  return { clusters, cumulative, total, last };
}

/** Draws a cluster; `random` is in [0, 1). */
export function drawCluster(w: WeightedClusters, random: number): string {
  const clusters = w.clusters;
  if (clusters.length === 1) return clusters[0];
  const x = random * w.total;
  const cumulative = w.cumulative;
  for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]) return clusters[i];
  return w.last;
}
