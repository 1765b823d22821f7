/**
 * Load generation with wrk: closed loop for saturation, and a paced mode for latency at a fixed
 * rate. wrk has no rate option (wrk2 is not packaged), so the paced script sleeps an exponentially
 * distributed time before each request on each connection; the sum of many such connections is a
 * Poisson-like arrival stream. Both scripts print one JSON line from wrk's done() callback.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { trackTransient } from './children';
import { join } from 'node:path';

const MARK = 'BENCH_JSON ';

const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${MARK}{"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
`;

// wrk.delay() is in whole milliseconds; stochastic rounding keeps the mean delay exact.
const PACED = `
local mean_ms = 0
function init(args)
  mean_ms = tonumber(args[1])
  math.randomseed(os.time() + (tonumber(args[2]) or 0))
end
function delay()
  local d = -mean_ms * math.log(1 - math.random())
  return math.floor(d + math.random())
end
${DONE}`;

export interface WrkScripts {
  closed: string;
  paced: string;
}

/** Writes the Lua scripts into `dir`. */
export function writeWrkScripts(dir: string): WrkScripts {
  const scripts = { closed: join(dir, 'closed.lua'), paced: join(dir, 'paced.lua') };
  writeFileSync(scripts.closed, DONE);
  writeFileSync(scripts.paced, PACED);
  return scripts;
}

export interface LatencyUs {
  min: number;
  mean: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: LatencyUs;
  /** requests / duration */
  rps: number;
}

export interface WrkRun {
  url: string;
  /** Host header to send (Weft's egress listener routes by it). */
  host?: string;
  connections: number;
  durationS: number;
  scripts: WrkScripts;
  /** Target rate in requests per second across all connections; undefined: closed loop. */
  rate?: number;
  /** CPU list for taskset. */
  cpus?: string;
}

/** Runs wrk once and returns its summary. Rejects if wrk fails or prints no summary. */
export function runWrk(r: WrkRun): Promise<WrkResult> {
  const args = ['-t1', `-c${r.connections}`, `-d${Math.max(1, Math.round(r.durationS))}s`, '--timeout', '5s'];
  if (r.host !== undefined) args.push('-H', `Host: ${r.host}`);
  if (r.rate !== undefined) {
    const meanDelayMs = (1000 * r.connections) / r.rate;
    args.push('-s', r.scripts.paced, r.url, '--', meanDelayMs.toFixed(3), String(process.pid));
  } else {
    args.push('-s', r.scripts.closed, r.url);
  }
  const [cmd, argv] = r.cpus !== undefined ? ['taskset', ['-c', r.cpus, 'wrk', ...args]] : ['wrk', args];
  // Bounded: wrk stops itself after -d; the kill timeout only guards against a hang.
  const timeout = (r.durationS + 30) * 1000;
  return new Promise((resolve, reject) => {
    const proc = execFile(cmd, argv, { timeout, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`wrk failed (${err.message.split('\n')[0]}): ${stderr || stdout}`));
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith(MARK));
      if (line === undefined) {
        reject(new Error(`wrk printed no summary:\n${stdout}\n${stderr}`));
        return;
      }
      const parsed = JSON.parse(line.slice(MARK.length)) as Omit<WrkResult, 'rps'>;
      resolve({ ...parsed, rps: parsed.durationUs > 0 ? (parsed.requests * 1e6) / parsed.durationUs : 0 });
    });
    trackTransient(proc);
  });
}

/** Total of the error counters; non-2xx/3xx responses count as errors. */
export function errorCount(r: WrkResult): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}
