/**
 * Keeps `npm run bench` working: a tiny real run (1 s phases, one run) against real nginx, wrk and,
 * when dist/weft.js is built, the Weft sidecar. No timing assertions: only that the result document
 * is complete and its numbers are positive.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningChildren } from '../../bench/children';
import { parseOptions, UsageError, type BenchOptions } from '../../bench/options';
import { runBench } from '../../bench/run';
import { BENCH_RESULT_SCHEMA, type BenchResult } from '../../bench/summary';
import { missingTools } from '../../bench/tools';

const repoRoot = join(__dirname, '..', '..');
const missing = missingTools();
if (missing.length > 0) console.log(`bench smoke test skipped: ${missing.join(', ')} not installed (apt-get install nginx-light wrk)`);
const withTools = missing.length > 0 ? describe.skip : describe;

withTools('bench smoke run', () => {
  let out: string;
  let result: BenchResult;
  let files: { jsonFile: string; markdownFile: string; svgFile: string; markdown: string };

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'weft-bench-smoke-'));
    const options = parseOptions(['--quick', '--no-install', '--only', 'nginx,nginx-mtls,weft,weft-resilience', '--rates', '1000', '--out', out], repoRoot) as BenchOptions;
    const run = await runBench(options, () => undefined);
    result = run.result;
    files = run;
  }, 120_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('writes the JSON, markdown and SVG files', () => {
    expect(existsSync(files.jsonFile)).toBe(true);
    expect(JSON.parse(readFileSync(files.jsonFile, 'utf8'))).toEqual(JSON.parse(JSON.stringify(result)));
    expect(readFileSync(files.markdownFile, 'utf8')).toContain('| direct to upstream |');
    expect(readFileSync(files.svgFile, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  test('leaves no child process running', () => {
    expect(runningChildren()).toBe(0);
  });

  test('the result document names its schema and options', () => {
    expect(result.schema).toBe(BENCH_RESULT_SCHEMA);
    expect(result.options).toMatchObject({ runs: 1, durationS: 1, rates: [1000], quick: true });
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(result.paths.map((p) => p.id)).toEqual(['direct', 'nginx', 'nginx-mtls', 'weft', 'weft-resilience']);
  });

  test.each(['direct', 'nginx', 'nginx-mtls'])('%s ran every phase with positive numbers and no errors', (id) => {
    const path = result.paths.find((p) => p.id === id)!;
    expect(path.skipped).toBeUndefined();
    expect(path.runs).toHaveLength(1);
    expect(path.runs[0].phases.map((p) => p.phase)).toEqual(['saturation', 'rate-1000']);
    for (const phase of path.runs[0].phases) {
      expect(phase.requests).toBeGreaterThan(0);
      expect(phase.rps).toBeGreaterThan(0);
      expect(phase.errors).toBe(0);
      expect(phase.latencyUs.p50).toBeGreaterThan(0);
      expect(phase.latencyUs.p99).toBeGreaterThanOrEqual(phase.latencyUs.p50);
      expect(phase.latencyUs.max).toBeGreaterThanOrEqual(phase.latencyUs.p99);
    }
    expect(path.median?.map((m) => m.phase)).toEqual(['saturation', 'rate-1000']);
  });

  test('proxy paths are charged CPU and memory per role; direct is not', () => {
    expect(result.paths[0].runs[0].phases[0].cpu).toEqual([]);
    const nginx = result.paths.find((p) => p.id === 'nginx')!;
    expect(nginx.runs[0].phases[0].cpu.map((c) => c.role)).toEqual(['proxy']);
    expect(nginx.runs[0].phases[0].cpu[0].cpuSeconds).toBeGreaterThan(0);
    expect(nginx.peakRssBytes.proxy).toBeGreaterThan(1024 * 1024);
    expect(nginx.anonRssBytes!.proxy).toBeGreaterThan(0);
    expect(nginx.anonRssBytes!.proxy).toBeLessThan(nginx.peakRssBytes.proxy);
    const mtls = result.paths.find((p) => p.id === 'nginx-mtls')!;
    expect(Object.keys(mtls.peakRssBytes)).toEqual(['outbound', 'inbound']);
    expect(mtls.runs[0].phases[0].cpu.every((c) => c.cpuSeconds > 0)).toBe(true);
  });

  test('the Weft path either ran like the others or says why not', () => {
    const weft = result.paths.find((p) => p.id === 'weft')!;
    if (weft.skipped !== undefined) {
      console.log(`bench smoke: weft path skipped: ${weft.skipped}`);
      expect(weft.skipped.length).toBeGreaterThan(0);
      expect(result.targets.find((t) => t.id === 'one-hop-throughput')!.met).toBeUndefined();
      return;
    }
    expect(weft.runs[0].phases.every((p) => p.requests > 0 && p.errors === 0)).toBe(true);
    expect(weft.peakRssBytes.proxy).toBeGreaterThan(1024 * 1024);
    const ratio = result.ratios.find((r) => r.id === 'weft/nginx:throughput')!;
    expect(ratio.value).toBeGreaterThan(0);
    expect(typeof result.targets.find((t) => t.id === 'one-hop-throughput')!.met).toBe('boolean');
  });

  test('the resilience path (outlier detection, health check, 10% mirror) serves without errors', () => {
    const path = result.paths.find((p) => p.id === 'weft-resilience')!;
    if (path.skipped !== undefined) {
      expect(result.paths.find((p) => p.id === 'weft')!.skipped).toBeDefined();
      return;
    }
    expect(path.runs[0].phases.every((p) => p.requests > 0 && p.errors === 0)).toBe(true);
  });
});

describe('bench options', () => {
  test('quick mode shortens phases unless told otherwise', () => {
    expect(parseOptions(['--quick'], repoRoot)).toMatchObject({ runs: 1, durationS: 1, warmupS: 1 });
    expect(parseOptions(['--quick', '--runs', '3'], repoRoot)).toMatchObject({ runs: 3, durationS: 1 });
    expect(parseOptions([], repoRoot)).toMatchObject({ runs: 3, durationS: 10, rates: [1000, 2000], connections: 32 });
  });

  test('--weft-b and --node-b set up an A/B; --node-b alone compares runtimes with the same build', () => {
    const ab = parseOptions(['--weft-b', '/tmp/weft-before.js'], repoRoot) as BenchOptions;
    expect(ab.weftCliB).toBe('/tmp/weft-before.js');
    expect(ab.nodeBinB).toBeUndefined();
    const runtimes = parseOptions(['--node-b', '/opt/node22/bin/node'], repoRoot) as BenchOptions;
    expect(runtimes.weftCliB).toBe(runtimes.weftCli);
    expect(runtimes.nodeBinB).toBe('/opt/node22/bin/node');
    expect(parseOptions([], repoRoot)).not.toHaveProperty('weftCliB');
  });

  test.each([
    [['--runs', '0'], /--runs must be an integer/],
    [['--duration', 'x'], /--duration must be an integer/],
    [['--rates', '1000,fast'], /--rates must be integers/],
    [['--runs'], /--runs needs a value/],
    [['--bogus'], /unknown option "--bogus"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseOptions(argv, repoRoot)).toThrow(UsageError);
    expect(() => parseOptions(argv, repoRoot)).toThrow(message);
  });

  test('--only rejects an unknown path before starting anything', async () => {
    const options = parseOptions(['--no-install', '--only', 'haproxy'], repoRoot) as BenchOptions;
    if (missing.length > 0) return;
    await expect(runBench(options, () => undefined)).rejects.toThrow(/--only: unknown path haproxy/);
    expect(runningChildren()).toBe(0);
  });
});
