/**
 * Result document, medians and the ratios the targets are stated in. Ratios are taken within a
 * run (same machine state for both proxies) and then the median over runs is reported.
 */
import type { PathKind } from './paths';
import type { PhaseResult } from './measure';
import { round } from './measure';

export const BENCH_RESULT_SCHEMA = 'weft.dev/bench-result/v1';

export interface PathRunResult {
  run: number;
  phases: PhaseResult[];
}

export interface PhaseMedian {
  phase: string;
  targetRps?: number;
  rps: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  /** Errors summed over runs (any non-zero value makes the numbers suspect). */
  errors: number;
  /** Median CPU seconds per 1,000 requests, per role. */
  cpuSecondsPer1k: Record<string, number>;
}

export interface PathResult {
  id: string;
  label: string;
  family: string;
  kind: PathKind;
  /** Why the path did not run (tool missing, sidecar not built, start failure). */
  skipped?: string;
  runs: PathRunResult[];
  /** Peak RSS (VmHWM summed over the role's processes) at the end of all runs, bytes. */
  peakRssBytes: Record<string, number>;
  /** Anonymous resident memory per role at the end of all runs (RSS without the mapped binary). */
  anonRssBytes?: Record<string, number>;
  median?: PhaseMedian[];
}

export interface Ratio {
  id: string;
  description: string;
  /**
   * Median of the per-run ratios; undefined when fewer than half of the runs gave one (a path was
   * missing, or nginx added no latency over direct in that run, which happens to p99 on a busy
   * machine).
   */
  value?: number;
  /** One entry per run; null where that run gave no ratio. */
  perRun: (number | null)[];
}

export interface TargetCheck {
  id: string;
  description: string;
  target: string;
  actual?: number;
  unit: string;
  met?: boolean;
}

export interface BenchResult {
  schema: typeof BENCH_RESULT_SCHEMA;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; nginx?: string; wrk?: string; loadBefore: number[]; loadAfter: number[] };
  options: { runs: number; durationS: number; warmupS: number; rates: number[]; connections: number; pinned: boolean; quick: boolean; sidecarNodeFlags: string[]; sidecarEnv?: Record<string, string> };
  paths: PathResult[];
  ratios: Ratio[];
  targets: TargetCheck[];
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Medians per phase over the runs of one path. */
export function pathMedians(runs: readonly PathRunResult[]): PhaseMedian[] {
  if (runs.length === 0) return [];
  return runs[0].phases.map((first) => {
    const all = runs.map((r) => r.phases.find((p) => p.phase === first.phase)).filter((p): p is PhaseResult => p !== undefined);
    const m = (f: (p: PhaseResult) => number): number => median(all.map(f)) ?? 0;
    const cpu: Record<string, number> = {};
    for (const c of first.cpu) cpu[c.role] = round(median(all.map((p) => p.cpu.find((x) => x.role === c.role)?.cpuSecondsPer1k ?? 0)) ?? 0, 5);
    return {
      phase: first.phase,
      targetRps: first.targetRps,
      rps: round(m((p) => p.rps), 1),
      p50Us: m((p) => p.latencyUs.p50),
      p90Us: m((p) => p.latencyUs.p90),
      p99Us: m((p) => p.latencyUs.p99),
      maxUs: m((p) => p.latencyUs.max),
      errors: all.reduce((n, p) => n + p.errors, 0),
      cpuSecondsPer1k: cpu,
    };
  });
}

function phaseOf(path: PathResult | undefined, run: number, phase: string): PhaseResult | undefined {
  return path?.runs.find((r) => r.run === run)?.phases.find((p) => p.phase === phase);
}

function perRunRatio(runs: number, f: (run: number) => number | undefined): (number | null)[] {
  const out: (number | null)[] = [];
  for (let run = 1; run <= runs; run++) {
    const v = f(run);
    out.push(v !== undefined && Number.isFinite(v) ? round(v, 3) : null);
  }
  return out;
}

/** Ratios of every non-nginx proxy family against nginx, from the same runs. */
export function computeRatios(paths: readonly PathResult[], runs: number, rates: readonly number[]): Ratio[] {
  const byId = new Map(paths.filter((p) => p.skipped === undefined).map((p) => [p.id, p]));
  const families = [...new Set(paths.map((p) => p.family))].filter((f) => f !== 'direct' && f !== 'nginx');
  const ratios: Ratio[] = [];
  const add = (id: string, description: string, f: (run: number) => number | undefined): void => {
    const perRun = perRunRatio(runs, f);
    const valid = perRun.filter((v): v is number => v !== null);
    if (valid.length === 0) return;
    const value = valid.length * 2 >= runs ? median(valid) : undefined;
    ratios.push({ id, description, value: value === undefined ? undefined : round(value, 3), perRun });
  };
  for (const fam of families) {
    for (const [suffix, what] of [['', '1 hop'], ['-mtls', '2 hops mTLS']] as const) {
      const mine = byId.get(`${fam}${suffix}`);
      const ref = byId.get(`nginx${suffix}`);
      const direct = byId.get('direct');
      if (!mine || !ref) continue;
      add(`${fam}${suffix}/nginx${suffix}:throughput`, `saturation throughput, ${fam} / nginx (${what})`, (run) => {
        const a = phaseOf(mine, run, 'saturation');
        const b = phaseOf(ref, run, 'saturation');
        return a && b && b.rps > 0 ? a.rps / b.rps : undefined;
      });
      if (!direct) continue;
      for (const rate of rates) {
        for (const q of ['p50', 'p99'] as const) {
          add(`${fam}${suffix}/nginx${suffix}:added-${q}@${rate}`, `latency added over direct at ${rate} req/s, ${q}, ${fam} / nginx (${what})`, (run) => {
            const d = phaseOf(direct, run, `rate-${rate}`);
            const a = phaseOf(mine, run, `rate-${rate}`);
            const b = phaseOf(ref, run, `rate-${rate}`);
            if (!d || !a || !b) return undefined;
            const refAdded = b.latencyUs[q] - d.latencyUs[q];
            return refAdded > 0 ? (a.latencyUs[q] - d.latencyUs[q]) / refAdded : undefined;
          });
        }
      }
    }
  }
  return ratios;
}

/** The targets for the Weft sidecar. */
export function checkTargets(paths: readonly PathResult[], ratios: readonly Ratio[], rates: readonly number[]): TargetCheck[] {
  const ratio = (id: string): number | undefined => ratios.find((r) => r.id === id)?.value;
  const meshRate = rates.includes(2000) ? 2000 : rates[rates.length - 1];
  const cpuRate = rates.includes(1000) ? 1000 : rates[0];
  const weftPaths = paths.filter((p) => p.family === 'weft' && p.skipped === undefined);
  const cpuValues = weftPaths.flatMap((p) => Object.values(p.median?.find((m) => m.phase === `rate-${cpuRate}`)?.cpuSecondsPer1k ?? {}));
  const rssValues = weftPaths.flatMap((p) => Object.values(p.peakRssBytes)).map((b) => b / (1024 * 1024));
  const check = (id: string, description: string, target: string, unit: string, actual: number | undefined, ok: (v: number) => boolean): TargetCheck => ({
    id,
    description,
    target,
    unit,
    actual: actual === undefined ? undefined : round(actual, 3),
    met: actual === undefined ? undefined : ok(actual),
  });
  return [
    check('one-hop-throughput', 'Weft 1-hop saturation throughput / nginx 1-hop', '>= 0.40', 'ratio', ratio('weft/nginx:throughput'), (v) => v >= 0.4),
    check('mesh-added-p50', `mesh path added p50 at ${meshRate} req/s / nginx 2-hop mTLS`, '<= 1.5', 'ratio', ratio(`weft-mtls/nginx-mtls:added-p50@${meshRate}`), (v) => v <= 1.5),
    check('mesh-added-p99', `mesh path added p99 at ${meshRate} req/s / nginx 2-hop mTLS`, '<= 2.0', 'ratio', ratio(`weft-mtls/nginx-mtls:added-p99@${meshRate}`), (v) => v <= 2),
    check('cpu-per-sidecar', `CPU per sidecar at ${cpuRate} req/s (worst sidecar)`, '<= 0.10', 'vCPU per 1,000 req/s', cpuValues.length ? Math.max(...cpuValues) : undefined, (v) => v <= 0.1),
    check('peak-rss', 'peak RSS per sidecar (worst sidecar)', '<= 80', 'MB', rssValues.length ? Math.max(...rssValues) : undefined, (v) => v <= 80),
  ];
}
