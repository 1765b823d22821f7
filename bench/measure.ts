/** One measurement run of one path: saturation, then each fixed rate, with the proxies' CPU. */
import { cpuSeconds, processTree } from './proc-stats';
import type { RunningPath } from './paths';
import { errorCount, runWrk, type LatencyUs, type WrkScripts } from './wrk';

export interface RoleCpu {
  role: string;
  cpuSeconds: number;
  /** CPU seconds per 1,000 requests = vCPU per 1,000 req/s. */
  cpuSecondsPer1k: number;
}

export interface PhaseResult {
  /** `saturation` or `rate-<N>` */
  phase: string;
  /** Target rate; undefined for the closed loop. */
  targetRps?: number;
  rps: number;
  requests: number;
  errors: number;
  latencyUs: LatencyUs;
  cpu: RoleCpu[];
}

export interface LoadSettings {
  connections: number;
  durationS: number;
  rates: number[];
  scripts: WrkScripts;
  /** CPU list for wrk. */
  loadCpus?: string;
}

/** Runs the phases of one run against a started path. */
export async function measureRun(path: RunningPath, s: LoadSettings): Promise<PhaseResult[]> {
  const phases: { phase: string; rate?: number }[] = [{ phase: 'saturation' }, ...s.rates.map((rate) => ({ phase: `rate-${rate}`, rate }))];
  const out: PhaseResult[] = [];
  for (const p of phases) {
    // Re-read the trees each phase: nginx may have respawned a worker, a sidecar may fork helpers.
    const trees = path.processes.map((pr) => ({ role: pr.role, pids: processTree(pr.child.pid) }));
    const before = trees.map((t) => cpuSeconds(t.pids));
    const wrk = await runWrk({ url: path.url, host: path.host, connections: s.connections, durationS: s.durationS, scripts: s.scripts, rate: p.rate, cpus: s.loadCpus });
    const cpu = trees.map((t, i) => {
      const pids = new Set([...t.pids, ...processTree(path.processes[i].child.pid)]);
      // A process born during the phase started from 0 ticks, so counting all of it is right.
      const used = cpuSeconds([...pids]) - before[i];
      return { role: t.role, cpuSeconds: round(used, 3), cpuSecondsPer1k: wrk.requests > 0 ? round((used * 1000) / wrk.requests, 5) : 0 };
    });
    out.push({ phase: p.phase, targetRps: p.rate, rps: round(wrk.rps, 1), requests: wrk.requests, errors: errorCount(wrk), latencyUs: wrk.latencyUs, cpu });
  }
  return out;
}

/** Closed-loop load whose numbers are thrown away. */
export async function warmUp(path: RunningPath, s: LoadSettings, seconds: number): Promise<void> {
  if (seconds <= 0) return;
  await runWrk({ url: path.url, host: path.host, connections: s.connections, durationS: seconds, scripts: s.scripts, cpus: s.loadCpus });
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
