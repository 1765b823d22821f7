import { computeRatios, checkTargets, median, pathMedians, type PathResult } from '../../bench/summary';
import type { PhaseResult } from '../../bench/measure';
import type { PathKind } from '../../bench/paths';

function phase(name: string, rps: number, p50: number, p99: number, cpu: Record<string, number> = {}): PhaseResult {
  return {
    phase: name,
    targetRps: name === 'saturation' ? undefined : Number(name.slice(5)),
    rps,
    requests: rps * 10,
    errors: 0,
    latencyUs: { min: 1, mean: p50, max: p99 * 2, p50, p90: (p50 + p99) / 2, p99, p999: p99 },
    cpu: Object.entries(cpu).map(([role, v]) => ({ role, cpuSeconds: v * rps * 0.01, cpuSecondsPer1k: v })),
  };
}

function path(id: string, family: string, kind: PathKind, runs: PhaseResult[][], rss: Record<string, number> = {}): PathResult {
  const p: PathResult = { id, label: id, family, kind, runs: runs.map((phases, i) => ({ run: i + 1, phases })), peakRssBytes: rss };
  p.median = pathMedians(p.runs);
  return p;
}

describe('median', () => {
  test('odd, even and empty', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('ratios and targets', () => {
  // Run 1 and run 2 differ on purpose: ratios are per run, then the median.
  const direct = path('direct', 'direct', 'direct', [
    [phase('saturation', 100_000, 50, 100), phase('rate-2000', 2000, 100, 200)],
    [phase('saturation', 90_000, 50, 100), phase('rate-2000', 2000, 100, 300)],
  ]);
  const nginx = path('nginx', 'nginx', 'one-hop', [
    [phase('saturation', 40_000, 100, 300, { proxy: 0.02 }), phase('rate-2000', 2000, 200, 400, { proxy: 0.05 })],
    [phase('saturation', 30_000, 100, 300, { proxy: 0.02 }), phase('rate-2000', 2000, 200, 500, { proxy: 0.05 })],
  ]);
  const weft = path('weft', 'weft', 'one-hop', [
    [phase('saturation', 20_000, 300, 900, { proxy: 0.2 }), phase('rate-2000', 2000, 300, 700, { proxy: 0.3 })],
    [phase('saturation', 12_000, 300, 900, { proxy: 0.2 }), phase('rate-2000', 2000, 400, 900, { proxy: 0.1 })],
  ], { proxy: 70 * 1024 * 1024 });
  const nginxMtls = path('nginx-mtls', 'nginx', 'two-hop-mtls', [
    [phase('saturation', 20_000, 1, 1), phase('rate-2000', 2000, 300, 600)],
    [phase('saturation', 20_000, 1, 1), phase('rate-2000', 2000, 300, 700)],
  ]);
  const weftMtls = path('weft-mtls', 'weft', 'two-hop-mtls', [
    [phase('saturation', 10_000, 1, 1, { outbound: 0.04, inbound: 0.03 }), phase('rate-2000', 2000, 400, 1400, { outbound: 0.09, inbound: 0.12 })],
    [phase('saturation', 10_000, 1, 1, { outbound: 0.04, inbound: 0.03 }), phase('rate-2000', 2000, 500, 1500, { outbound: 0.07, inbound: 0.08 })],
  ], { outbound: 60 * 1024 * 1024, inbound: 90 * 1024 * 1024 });
  const paths = [direct, nginx, nginxMtls, weft, weftMtls];
  const ratios = computeRatios(paths, 2, [2000]);
  const byId = (id: string) => ratios.find((r) => r.id === id)!;

  test('throughput ratio is the median of per-run ratios', () => {
    expect(byId('weft/nginx:throughput').perRun).toEqual([0.5, 0.4]);
    expect(byId('weft/nginx:throughput').value).toBe(0.45);
    expect(byId('weft-mtls/nginx-mtls:throughput').value).toBe(0.5);
  });

  test('added latency subtracts the direct path of the same run', () => {
    // run 1: (400-100)/(300-100) = 1.5; run 2: (500-100)/(300-100) = 2
    expect(byId('weft-mtls/nginx-mtls:added-p50@2000').perRun).toEqual([1.5, 2]);
    // run 1: (1400-200)/(600-200) = 3; run 2: (1500-300)/(700-300) = 3
    expect(byId('weft-mtls/nginx-mtls:added-p99@2000').value).toBe(3);
  });

  test('a run where nginx added nothing gives no ratio; too few valid runs give no value', () => {
    const flatNginx = path('nginx-mtls', 'nginx', 'two-hop-mtls', [
      [phase('saturation', 20_000, 1, 1), phase('rate-2000', 2000, 300, 150)],
      [phase('saturation', 20_000, 1, 1), phase('rate-2000', 2000, 300, 700)],
      [phase('saturation', 20_000, 1, 1), phase('rate-2000', 2000, 300, 100)],
    ]);
    const three = (p: PathResult) => ({ ...p, runs: [...p.runs, { ...p.runs[1], run: 3 }] });
    const r = computeRatios([three(direct), flatNginx, three(weftMtls)], 3, [2000]).find((x) => x.id === 'weft-mtls/nginx-mtls:added-p99@2000')!;
    expect(r.perRun).toEqual([null, 3, null]);
    expect(r.value).toBeUndefined();
  });

  test('targets: met, missed, and the worst sidecar counts', () => {
    const targets = Object.fromEntries(checkTargets(paths, ratios, [2000]).map((t) => [t.id, t]));
    expect(targets['one-hop-throughput']).toMatchObject({ actual: 0.45, met: true });
    expect(targets['mesh-added-p50']).toMatchObject({ actual: 1.75, met: false });
    expect(targets['mesh-added-p99']).toMatchObject({ actual: 3, met: false });
    // No 1,000 req/s phase here: the lowest rate (2,000) is used; medians 0.2, 0.08, 0.1.
    expect(targets['cpu-per-sidecar']).toMatchObject({ actual: 0.2, met: false });
    expect(targets['peak-rss']).toMatchObject({ actual: 90, met: false });
  });

  test('a skipped path leaves its targets unmeasured rather than failed', () => {
    const skipped = { ...weft, skipped: 'not built', runs: [], median: undefined };
    const r = computeRatios([direct, nginx, skipped], 2, [2000]);
    expect(r).toEqual([]);
    const t = checkTargets([direct, nginx, skipped], r, [2000]);
    expect(t.every((x) => x.met === undefined && x.actual === undefined)).toBe(true);
  });
});
