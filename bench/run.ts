/**
 * `npm run bench`: measures the direct, nginx and Weft request paths in one run and writes
 * bench/results/<timestamp>.json, latest.md and latest.svg. Method and targets: docs/performance.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findProfiles, renderProfiles } from './cpu-profile';
import { generateMeshCertificates, type IdentityFiles } from './certs';
import { killAllNow, stopAll } from './children';
import { measureRun, warmUp, type LoadSettings } from './measure';
import { upstreamConf } from './nginx-conf';
import { nginxProxy } from './nginx-proxy';
import { FLOOR_FLAG, nodeFloorProxy, serveNodeFloor } from './node-floor';
import { nodeRelayProxy } from './node-relay-proxy';
import { parseOptions, USAGE, UsageError, type BenchOptions } from './options';
import { definePaths, startNginx, waitForOk, type PathContext, type PathDefinition, type RunningPath } from './paths';
import { freePorts } from './ports';
import { loadAverage, peakRssBytes, processTree, residentBreakdown } from './proc-stats';
import { renderLatencySvg, renderMarkdown } from './report';
import { BENCH_RESULT_SCHEMA, checkTargets, computeRatios, pathMedians, type BenchResult, type PathResult } from './summary';
import { installTools, missingTools, sidecarEnv, toolVersion } from './tools';
import { resolveNode } from './node-runtime';
import { SIDECAR_NODE_FLAGS } from '../proxy/sidecar-runtime';
import { weftProxy } from './weft-proxy';
import { writeWrkScripts } from './wrk';

export interface BenchOutput {
  result: BenchResult;
  jsonFile: string;
  markdownFile: string;
  svgFile: string;
  markdown: string;
}

/** Thrown when the machine lacks a tool the bench needs (the smoke test skips on it). */
export class MissingToolsError extends Error {
  constructor(readonly tools: string[]) {
    super(`missing tools: ${tools.join(', ')}`);
  }
}

/** Scratch directory of the run in progress, removed by the signal handlers too. */
let activeScratch: string | undefined;

/** Runs the whole bench. Starts and stops every server it uses; throws on setup failures. */
export async function runBench(options: BenchOptions, log: (line: string) => void = (l) => console.error(l)): Promise<BenchOutput> {
  // The image's runtime: its Node major (resolved here) and its flags, then the caller's.
  let o = options;
  const node = resolveNode(o.nodeBin, o.install, log);
  if (node.note) log(node.note);
  o = { ...o, nodeBin: node.bin, nodeBinB: o.nodeBinB === undefined ? undefined : resolveNode(o.nodeBinB, o.install, log).bin };
  const nodeFlags = [...SIDECAR_NODE_FLAGS, ...o.nodeFlags];
  const weftFlags = [...nodeFlags, ...(o.cpuProf ? ['--cpu-prof', '--cpu-prof-dir={dir}'] : [])];
  const proxies = [
    nginxProxy,
    nodeFloorProxy(__filename, o.nodeBin, nodeFlags),
    nodeRelayProxy(__filename, o.nodeBin, nodeFlags),
    weftProxy({ cli: o.weftCli, nodeBin: o.nodeBin, nodeFlags: weftFlags }),
    weftProxy({ cli: o.weftCli, nodeBin: o.nodeBin, nodeFlags: weftFlags, family: 'weft-resilience', label: 'Weft with resilience on', resilience: true }),
    // Tracing joins this path when it is built.
    weftProxy({ cli: o.weftCli, nodeBin: o.nodeBin, nodeFlags: weftFlags, family: 'weft-observability', label: 'Weft with metrics, access logs and 1% tracing on', observability: true }),
  ];
  if (o.weftCliB !== undefined) {
    const nodeB = o.nodeBinB ?? o.nodeBin;
    const what = [o.weftCliB !== o.weftCli ? basename(o.weftCliB) : '', nodeB !== o.nodeBin ? `Node ${spawnSync(nodeB, ['--version']).stdout?.toString().trim() || nodeB}` : ''].filter((s) => s !== '').join(', ');
    proxies.push(weftProxy({ cli: o.weftCliB, nodeBin: nodeB, nodeFlags: weftFlags, family: 'weft-b', label: `Weft B${what ? ` (${what})` : ''}` }));
  }
  const all = definePaths(proxies);
  // JWT and authorization run on the serving sidecar, so its path is the mTLS one only.
  const authz = weftProxy({ cli: o.weftCli, nodeBin: o.nodeBin, nodeFlags: weftFlags, family: 'weft-authz', label: 'Weft with JWT and authorization', authz: true });
  all.push({
    id: 'weft-authz',
    label: 'Weft -> mTLS -> Weft with a JWT rule, a 10-rule ALLOW policy and a rate limit (2 hops)',
    family: 'weft-authz',
    kind: 'two-hop-mtls',
    unavailable: () => authz.unavailable(),
    start: (ctx) => authz.twoHopMtls!(ctx),
  });
  const unknown = o.only.filter((id) => !all.some((p) => p.id === id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown path ${unknown.join(', ')} (known: ${all.map((p) => p.id).join(', ')})`);
  const selected = all.filter((p) => o.only.length === 0 || p.id === 'direct' || o.only.includes(p.id));
  const missing = o.install ? installTools(log) : missingTools();
  if (missing.length > 0) throw new MissingToolsError(missing);

  const startedAt = new Date();
  const scratch = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  if (!o.keep) activeScratch = scratch;
  const pinned = o.pin && cpus().length >= 2;
  const serverCpus = pinned ? '1' : undefined;
  const load: LoadSettings = {
    connections: o.connections,
    durationS: o.durationS,
    rates: o.rates,
    scripts: { closed: '', paced: '' },
    loadCpus: pinned ? '0' : undefined,
  };
  const loadBefore = loadAverage();

  let certs: Map<string, IdentityFiles> | undefined;
  const certificates = (): Map<string, IdentityFiles> => (certs ??= generateMeshCertificates(join(scratch, 'certs'), ['client', 'server']));

  try {
    load.scripts = writeWrkScripts(scratch);
    const [upstreamPort] = await freePorts(1);
    const upstreamDir = join(scratch, 'upstream');
    const base: Omit<PathContext, 'dir'> = { upstreamPort, certificates, serverCpus };
    await startNginx({ ...base, dir: scratch }, 'upstream', upstreamConf(upstreamDir, upstreamPort), upstreamPort);
    await waitForOk(`http://127.0.0.1:${upstreamPort}/`, undefined);

    const started: { def: PathDefinition; running: RunningPath; result: PathResult }[] = [];
    const results: PathResult[] = [];
    for (const def of selected) {
      const result: PathResult = { id: def.id, label: def.label, family: def.family, kind: def.kind, runs: [], peakRssBytes: {} };
      results.push(result);
      const reason = def.unavailable();
      if (reason !== undefined) {
        result.skipped = reason;
        log(`skip ${def.id}: ${reason}`);
        continue;
      }
      try {
        const dir = join(scratch, def.id);
        mkdirSync(dir, { recursive: true });
        const running = await def.start({ ...base, dir });
        log(`warm-up ${def.id} (${o.warmupS} s)`);
        await warmUp(running, load, o.warmupS);
        started.push({ def, running, result });
      } catch (err) {
        result.skipped = `failed to start: ${(err as Error).message.split('\n')[0]}`;
        log(`skip ${def.id}: ${(err as Error).message}`);
      }
    }

    // Paths take turns within each run, so slow drift on a shared machine hits all of them alike,
    // and every other run takes them in reverse order: the place in a run matters on this VM (the
    // same two builds measured first and second swapped a 4-5% CPU difference for a 15% one the
    // other way when their places were swapped; docs/decisions/0011-bench-run-order.md).
    for (let run = 1; run <= o.runs; run++) {
      for (const s of run % 2 === 1 ? started : [...started].reverse()) {
        log(`run ${run}/${o.runs}: ${s.def.id}`);
        s.result.runs.push({ run, phases: await measureRun(s.running, load) });
      }
    }
    for (const s of started) {
      s.result.anonRssBytes = {};
      for (const p of s.running.processes) {
        const pids = processTree(p.child.pid);
        s.result.peakRssBytes[p.role] = peakRssBytes(pids);
        s.result.anonRssBytes[p.role] = residentBreakdown(pids).anon;
      }
      s.result.median = pathMedians(s.result.runs);
    }

    const ratios = computeRatios(results, o.runs, o.rates);
    const result: BenchResult = {
      schema: BENCH_RESULT_SCHEMA,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        // The proxies' runtime (--node), which is what the numbers are about, not the harness's.
        node: o.nodeBin === process.execPath ? process.version : spawnSync(o.nodeBin, ['--version']).stdout?.toString().trim() || o.nodeBin,
        nginx: toolVersion('nginx', ['-v']),
        wrk: toolVersion('wrk', ['-v']),
        loadBefore,
        loadAfter: loadAverage(),
      },
      options: { runs: o.runs, durationS: o.durationS, warmupS: o.warmupS, rates: o.rates, connections: o.connections, pinned, quick: o.quick, sidecarNodeFlags: nodeFlags, sidecarEnv: { ...sidecarEnv() } },
      paths: results,
      ratios,
      targets: checkTargets(results, ratios, o.rates),
    };

    mkdirSync(o.outDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const jsonFile = join(o.outDir, `${stamp}.json`);
    const markdownFile = join(o.outDir, 'latest.md');
    const svgFile = join(o.outDir, 'latest.svg');
    const markdown = renderMarkdown(result);
    writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(markdownFile, `# Weft bench, ${result.startedAt}\n\n${markdown}\n![latency](latest.svg)\n`);
    writeFileSync(svgFile, renderLatencySvg(result));
    return { result, jsonFile, markdownFile, svgFile, markdown };
  } finally {
    await stopAll();
    if (o.cpuProf) {
      const profiles = findProfiles(scratch);
      if (profiles.length > 0) log(`\nCPU profiles (self time):\n\n${renderProfiles(profiles)}`);
      else log('no CPU profiles were written (the sidecar must exit cleanly on SIGTERM)');
    }
    if (o.keep) log(`scratch directory kept: ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
    activeScratch = undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === FLOOR_FLAG) {
    serveNodeFloor(Number(argv[1]), Number(argv[2]));
    return new Promise(() => undefined);
  }
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(argv, resolve(__dirname, '..'));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, stopping servers`);
      void stopAll(1000).finally(() => {
        if (activeScratch !== undefined) rmSync(activeScratch, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  try {
    const out = await runBench(options);
    process.stdout.write(out.markdown);
    console.error(`\nwrote ${out.jsonFile}, ${out.markdownFile}, ${out.svgFile}`);
    return 0;
  } catch (err) {
    console.error(`bench: ${err instanceof UsageError || err instanceof MissingToolsError ? err.message : (err as Error).stack}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
