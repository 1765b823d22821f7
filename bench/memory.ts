/**
 * Idle memory of `weft proxy`: starts the sidecar the way the bench does (file config, file or no
 * certificates, static discovery), sends requests until the path answers 200, waits, and reads
 * VmRSS, VmHWM (peak), RssAnon and RssFile from /proc/<pid>/status. Each combination of CLI build
 * and Node flags runs `--runs` times; the table shows medians in MiB. No load: the throughput
 * bench (run.ts) measures memory under load.
 *
 *   npm run build    # bundles this file as dist/memory.js
 *   node dist/memory.js [--cli dist/weft-proxy.js]... [--flags='--max-semi-space-size=2']... [--path two-hop-mtls]
 *
 * `--flags=` (with `=`, as the value starts with a dash) is a run without extra flags; several
 * `--cli` compare builds (e.g. before/after). The sidecars inherit the environment, so
 * `MALLOC_ARENA_MAX=2 node dist/memory.js` measures that too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMeshCertificates, type IdentityFiles } from './certs';
import { sleep, stopAll } from './children';
import type { PathContext, RunningPath } from './paths';
import { freePorts } from './ports';
import { weftProxy } from './weft-proxy';

interface Sample {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

const FIELDS: Record<keyof Sample, string> = { rss: 'VmRSS', hwm: 'VmHWM', anon: 'RssAnon', file: 'RssFile' };

/** The four figures of /proc/<pid>/status, in bytes. */
function readStatus(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]) * 1024;
  };
  return { rss: field(FIELDS.rss), hwm: field(FIELDS.hwm), anon: field(FIELDS.anon), file: field(FIELDS.file) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cli: { type: 'string', multiple: true },
      flags: { type: 'string', multiple: true },
      path: { type: 'string', default: 'one-hop' },
      runs: { type: 'string', default: '3' },
      'settle-ms': { type: 'string', default: '2000' },
    },
  });
  const clis = (values.cli ?? ['dist/weft-proxy.js']).map((c) => resolve(c));
  const flagSets = (values.flags ?? ['']).map((f) => f.split(/\s+/).filter((x) => x !== ''));
  const runs = Number(values.runs);
  const settleMs = Number(values['settle-ms']);
  if (values.path !== 'one-hop' && values.path !== 'two-hop-mtls') throw new Error(`--path must be one-hop or two-hop-mtls, got: ${values.path}`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got: ${values.runs}`);

  const dir = mkdtempSync(join(tmpdir(), 'weft-memory-'));
  const [upstreamPort] = await freePorts(1);
  const upstream = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', r));
  let certs: Map<string, IdentityFiles> | undefined;
  const ctx: PathContext = { dir, upstreamPort, certificates: () => (certs ??= generateMeshCertificates(join(dir, 'certs'), ['client', 'server'])) };

  const rows: string[][] = [['cli', 'node flags', 'role', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile']];
  try {
    for (const cli of clis) {
      for (const flags of flagSets) {
        const samples = new Map<string, Sample[]>();
        for (let i = 0; i < runs; i++) {
          const proxy = weftProxy({ cli, nodeBin: process.execPath, nodeFlags: flags });
          const why = proxy.unavailable();
          if (why) throw new Error(why);
          let running: RunningPath;
          if (values.path === 'one-hop') running = await proxy.oneHop(ctx);
          else running = await proxy.twoHopMtls!(ctx);
          await sleep(settleMs);
          for (const p of running.processes) {
            const list = samples.get(p.role) ?? [];
            list.push(readStatus(p.child.pid));
            samples.set(p.role, list);
          }
          await stopAll();
        }
        for (const [role, list] of samples) {
          const m = (k: keyof Sample): string => mib(median(list.map((s) => s[k])));
          rows.push([cli, flags.join(' ') || '(none)', role, m('rss'), m('hwm'), m('anon'), m('file')]);
        }
      }
    }
  } finally {
    await stopAll();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(`idle memory of weft proxy (${values.path}), MiB, median of ${runs}\n`);
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ')}\n`);
}

main().catch(async (err: unknown) => {
  await stopAll();
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
