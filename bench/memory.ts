/**
 * Memory of `weft proxy` at rest. Starts the sidecar the way the bench does (file config, file or
 * no certificates, static discovery, the image's runtime: proxy/sidecar-runtime.ts's Node major,
 * flags and environment), sends requests until the path answers 200, and then measures one of:
 *
 * - idle memory (the default): after `--settle-ms`, VmRSS, VmHWM (peak), RssAnon and RssFile of
 *   every sidecar of the path;
 * - idle connections (`--idle-connections N`): N connections that send nothing, opened and closed
 *   `--rounds` times (bench/idle-connections.ts), against the inbound sidecar's mTLS port
 *   (`--path two-hop-mtls`) or the one-hop sidecar's plaintext egress port (`--path one-hop`).
 *
 * Each combination of CLI build, extra Node flags and extra environment runs `--runs` times, a
 * fresh sidecar each time, the combinations taking turns (reversed on every other run); the tables
 * show medians in MiB. No load: the throughput bench (run.ts) measures memory under load.
 *
 *   npm run build    # bundles this file as dist/memory.js
 *   node dist/memory.js [--cli dist/weft-proxy.js]... [--flags='--max-semi-space-size=2']... [--env='MALLOC_TRIM_THRESHOLD_=0']... [--path two-hop-mtls]
 *   node dist/memory.js --path two-hop-mtls --idle-connections 2000 --rounds 4
 *
 * `--flags=` and `--env=` (with `=`, as a value may start with a dash) are a run with nothing
 * extra; several `--cli`, `--flags` or `--env` compare builds or settings (e.g. before/after).
 * Extra flags come after the image's, so they override them; extra variables override the image's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { SETTINGS } from '../proxy/contracts/settings';
import { SIDECAR_NODE_FLAGS, SIDECAR_NODE_MAJOR } from '../proxy/sidecar-runtime';
import { sidecarEnv } from './tools';
import { generateMeshCertificates, type IdentityFiles } from './certs';
import { sleep, stopAll } from './children';
import { checkOpenFileLimit, IDLE_CLIENT_FLAG, measureIdleConnections, runIdleClient, type IdleRound } from './idle-connections';
import { resolveNode } from './node-runtime';
import type { PathContext, RunningPath } from './paths';
import { freePorts } from './ports';
import { memoryStatus, type MemoryStatus } from './proc-stats';
import { weftProxy } from './weft-proxy';

/**
 * The sidecar closes a connection that sent nothing after the request-headers timeout (10 s by
 * default; on the inbound port also after a TLS handshake). Opening thousands of connections takes
 * longer than that on a busy machine, so the idle-connections measurement raises it, to measure N
 * connections open at once. `--env WEFT_REQUEST_HEADERS_TIMEOUT_MS=10000` measures with the default.
 */
const IDLE_HOLD_ENV: Readonly<Record<string, string>> = { [SETTINGS.requestHeadersTimeoutMs.env]: '300000' };

/** One sidecar setup under comparison. */
interface Variant {
  cli: string;
  flags: string[];
  env: Record<string, string>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/** `NAME=value NAME2=value2` -> an object; an empty string is no variables. */
function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.split(/\s+/).filter((x) => x !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env takes NAME=value pairs separated by spaces, got: ${pair}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

const positiveInt = (name: string, text: string, min = 1): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}, got: ${text}`);
  return n;
};

/** Left-aligned text columns, then right-aligned figures from column `firstNumber` on. */
function printTable(title: string, rows: string[][], firstNumber: number): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(`${title}\n`);
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i >= firstNumber ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}\n`);
}

function variantCells(v: Variant): string[] {
  const env = Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(' ');
  return [v.cli, v.flags.join(' ') || '-', env || '-'];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cli: { type: 'string', multiple: true },
      flags: { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      node: { type: 'string', default: String(SIDECAR_NODE_MAJOR) },
      path: { type: 'string', default: 'one-hop' },
      runs: { type: 'string', default: '3' },
      'settle-ms': { type: 'string', default: '2000' },
      'idle-connections': { type: 'string', default: '0' },
      rounds: { type: 'string', default: '4' },
    },
  });
  const clis = (values.cli ?? ['dist/weft-proxy.js']).map((c) => resolve(c));
  const flagSets = (values.flags ?? ['']).map((f) => f.split(/\s+/).filter((x) => x !== ''));
  const envs = (values.env ?? ['']).map(parseEnv);
  const variants: Variant[] = clis.flatMap((cli) => flagSets.flatMap((flags) => envs.map((env) => ({ cli, flags, env }))));
  const runs = positiveInt('runs', values.runs);
  const settleMs = positiveInt('settle-ms', values['settle-ms'], 0);
  const idleConnections = positiveInt('idle-connections', values['idle-connections'], 0);
  const rounds = positiveInt('rounds', values.rounds);
  const path = values.path;
  if (path !== 'one-hop' && path !== 'two-hop-mtls') throw new Error(`--path must be one-hop or two-hop-mtls, got: ${path}`);
  if (idleConnections > 0) checkOpenFileLimit(idleConnections);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const node = resolveNode(values.node, true, log);
  if (node.note) log(node.note);
  const nodeVersion = execFileSync(node.bin, ['--version'], { encoding: 'utf8' }).trim();

  const dir = mkdtempSync(join(tmpdir(), 'weft-memory-'));
  const [upstreamPort] = await freePorts(1);
  const upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', r));
  let certs: Map<string, IdentityFiles> | undefined;
  const ctx: PathContext = { dir, upstreamPort, certificates: () => (certs ??= generateMeshCertificates(join(dir, 'certs'), ['client', 'server'])) };

  const idle = new Map<Variant, Map<string, MemoryStatus[]>>(variants.map((v) => [v, new Map()]));
  const connected = new Map<Variant, IdleRound[][]>(variants.map((v) => [v, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
        const env = idleConnections > 0 ? { ...IDLE_HOLD_ENV, ...v.env } : v.env;
        const proxy = weftProxy({ cli: v.cli, nodeBin: node.bin, nodeFlags: [...SIDECAR_NODE_FLAGS, ...v.flags], env });
        const why = proxy.unavailable();
        if (why) throw new Error(why);
        const running: RunningPath = path === 'one-hop' ? await proxy.oneHop(ctx) : await proxy.twoHopMtls!(ctx);
        await sleep(settleMs);
        if (idleConnections === 0) {
          for (const p of running.processes) {
            const samples = idle.get(v)!;
            samples.set(p.role, [...(samples.get(p.role) ?? []), memoryStatus(p.child.pid)]);
          }
        } else {
          const target = running.processes.find((p) => p.role === (path === 'one-hop' ? 'proxy' : 'inbound'));
          if (target?.port === undefined) throw new Error(`the ${path} path names no process and port to connect to`);
          log(`run ${i + 1}, ${variantCells(v).join(' | ')}`);
          const result = await measureIdleConnections(
            { pid: target.child.pid, port: target.port, identity: path === 'one-hop' ? undefined : ctx.certificates().get('client') },
            { count: idleConnections, rounds, settleMs, script: __filename, log },
          );
          connected.get(v)!.push(result);
        }
        await stopAll();
      }
    }
  } finally {
    await stopAll();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const runtime = `Node ${nodeVersion} with the image's flags and environment (${Object.entries(sidecarEnv()).map(([k, x]) => `${k}=${x}`).join(' ')})`;
  const head = ['cli', 'extra node flags', 'extra env'];
  if (idleConnections === 0) {
    const rows = [[...head, 'role', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile']];
    for (const v of variants) {
      for (const [role, list] of idle.get(v)!) {
        const m = (k: keyof MemoryStatus): string => mib(median(list.map((s) => s[k])));
        rows.push([...variantCells(v), role, m('rss'), m('hwm'), m('anon'), m('file')]);
      }
    }
    printTable(`idle memory of weft proxy (${path}), ${runtime}, MiB, median of ${runs}`, rows, 4);
    return;
  }
  const rows = [[...head, 'round', 'open', 'VmRSS before', 'VmRSS open', 'KB/conn', 'VmRSS closed', 'RssAnon closed']];
  for (const v of variants) {
    const results = connected.get(v)!;
    for (let r = 0; r < rounds; r++) {
      const m = (f: (x: IdleRound) => number): number => median(results.map((runRounds) => f(runRounds[r])));
      const perConn = m((x) => (x.opened > 0 ? (x.open.rss - x.before.rss) / x.opened / 1024 : 0));
      rows.push([...variantCells(v), String(r + 1), String(m((x) => x.opened)), mib(m((x) => x.before.rss)), mib(m((x) => x.open.rss)), perConn.toFixed(1), mib(m((x) => x.closed.rss)), mib(m((x) => x.closed.anon))]);
    }
  }
  const what = path === 'one-hop' ? 'plaintext to the one-hop egress port' : 'mTLS to the inbound sidecar';
  const hold = `${Object.entries(IDLE_HOLD_ENV).map(([k, x]) => `${k}=${x}`).join(' ')} unless --env sets it`;
  printTable(`idle connections to weft proxy: ${idleConnections} per round, ${what}, ${runtime}, ${hold}; MiB (KB/conn: KiB per open connection over the round's start), median of ${runs}`, rows, 3);
}

if (process.argv[2] === IDLE_CLIENT_FLAG) runIdleClient();
else {
  main().catch(async (err: unknown) => {
    await stopAll();
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
