/**
 * A real Prometheus server (Debian's `prometheus` package) scrapes a sidecar's metrics port, and
 * the main queries of Istio's Grafana service and workload dashboards (request volume, success
 * rate, request rate by destination, p50/p90/p99 duration) give the values a known mix implies.
 *
 * The dashboards read `irate(...)`: the increase between the last two scrapes. The mix is sent
 * between two scrapes and each query is evaluated at the scrape that took it in, so every value
 * is exact (a mix that straddles a scrape is sent again). The app answers after 300 ms, so every
 * forwarded request falls in Istio's (250, 500] ms bucket whatever the machine's load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { agent, eventually, freePort, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
if (!hasPrometheus) console.log('prometheus not installed (Debian package `prometheus`): the scrape test is skipped');
const suite = hasPrometheus ? describe : describe.skip;

const SCRAPE_SECONDS = 2;
const APP_DELAY_MS = 300;

let app: Upstream;
let sidecar: Running;
let prometheus: ChildProcess;
let promPort: number;
let dir: string;

type Sample = [number, string];
interface Series {
  metric: Record<string, string>;
  value?: Sample;
  values?: Sample[];
}

async function query(expr: string, time?: number): Promise<Series[]> {
  const params = new URLSearchParams({ query: expr, ...(time === undefined ? {} : { time: String(time) }) });
  const res = await request(`http://127.0.0.1:${promPort}/api/v1/query?${params}`, { dispatcher: agent });
  const body = (await res.body.json()) as { status: string; data: { result: Series[] }; error?: string };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

/** The one value of an instant query (NaN when it returned nothing). */
async function scalar(expr: string, time: number): Promise<number> {
  const [first] = await query(expr, time);
  return first === undefined ? NaN : Number(first.value![1]);
}

const total = async (): Promise<number> => scalar('sum(istio_requests_total)', Date.now() / 1000);

beforeAll(async () => {
  if (!hasPrometheus) return;
  app = await startUpstream('app', { delayMs: APP_DELAY_MS });
  const deadPort = await freePort();
  const route = (name: string, cluster: string, prefix: string, priority: number) => httpRoute(name, { [cluster]: 1 }, { path: { prefix } }, { priority });
  sidecar = await startWith(
    nodeBody({
      name: 'client',
      services: [{ name: 'svc.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [route('svc/ok', 'app:8080', '/ok', 0), route('svc/dead', 'dead:8080', '/dead', 1)] }] }],
      clusters: [staticCluster('app:8080', [app.port]), staticCluster('dead:8080', [deadPort])],
    }),
    { metrics: 'prometheus', metricsPort: 0 },
  );
  dir = mkdtempSync(join(tmpdir(), 'weft-prometheus-'));
  promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${SCRAPE_SECONDS}s`,
      'scrape_configs:',
      '  - job_name: weft',
      '    metrics_path: /stats/prometheus',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${sidecar.handle.ports.metrics}']`,
      '',
    ].join('\n'),
  );
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=error'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await eventually(async () => {
    try {
      return (await request(`http://127.0.0.1:${promPort}/-/ready`, { dispatcher: agent })).statusCode === 200;
    } catch {
      return false;
    }
  }, 'prometheus to be ready', 30_000);
}, 60_000);

afterAll(async () => {
  if (!hasPrometheus) return;
  prometheus?.kill('SIGTERM');
  await sidecar?.close();
  await Promise.all([app?.close(), agent.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const svc = { host: 'svc.demo.local:8080' };

/** 5 forwarded (200), 3 without a route (404), 2 to a dead cluster (503), all at once. */
async function sendMix(): Promise<void> {
  const sends = [
    ...Array.from({ length: 5 }, (_, i) => get(sidecar.handle.ports.egress!, `/ok/${i}`, svc)),
    ...Array.from({ length: 3 }, () => get(sidecar.handle.ports.egress!, '/nowhere', svc)),
    ...Array.from({ length: 2 }, () => get(sidecar.handle.ports.egress!, '/dead', svc)),
  ];
  expect((await Promise.all(sends)).map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 404, 404, 404, 503, 503]);
}

const keyOf = (metric: Record<string, string>): string => JSON.stringify(Object.entries(metric).sort());

/** Each request series' value in Prometheus now, by its labels. */
async function countsNow(): Promise<Map<string, number>> {
  return new Map((await query('istio_requests_total', Date.now() / 1000)).map((s) => [keyOf(s.metric), Number(s.value![1])]));
}

/** The scrape (timestamp, s) whose samples took in the whole mix, and the one before; undefined if the mix straddled scrapes. */
async function scrapeThatTookIn(before: Map<string, number>): Promise<{ at: number; previous: number } | undefined> {
  const steps = new Set<string>();
  for (const series of await query('istio_requests_total[60s]', Date.now() / 1000)) {
    const old = before.get(keyOf(series.metric)) ?? 0;
    const values = series.values!;
    const last = Number(values[values.length - 1][1]);
    if (last === old) continue;
    // The first sample past the old value must already be the final one.
    const i = values.findIndex(([, v]) => Number(v) > old);
    if (i <= 0 || Number(values[i][1]) !== last) return undefined;
    steps.add(`${values[i - 1][0]}|${values[i][0]}`);
  }
  if (steps.size !== 1) return undefined;
  const [previous, at] = [...steps][0].split('|').map(Number);
  return { at, previous };
}

suite('Istio dashboard queries over a real Prometheus scrape', () => {
  test('request volume, success rate, rate by destination and p50/p90/p99 equal the mix', async () => {
    // Every series exists (and has been scraped twice) before the mix, as on a running mesh.
    await sendMix();
    let expected = 10;
    await eventually(async () => (await total()) === expected, 'prometheus to see the first mix', 20_000);
    await eventually(async () => (await scalar('min(count_over_time(istio_requests_total[60s]))', Date.now() / 1000)) >= 2, 'two scrapes of every series', 20_000);

    let step: { at: number; previous: number } | undefined;
    for (let attempt = 0; attempt < 4 && step === undefined; attempt++) {
      const before = await countsNow();
      await sendMix();
      expected += 10;
      await eventually(async () => (await total()) === expected, 'prometheus to see the mix', 20_000);
      step = await scrapeThatTookIn(before);
    }
    expect(step).toBeDefined();
    const { at, previous } = step!;
    const perSecond = (n: number) => n / (at - previous);

    // Istio's service dashboard: client request volume and success rate (non-5xx), reporter source.
    const sel = 'reporter="source"';
    expect(await scalar(`round(sum(irate(istio_requests_total{${sel}}[1m])), 0.001)`, at)).toBeCloseTo(perSecond(10), 2);
    expect(await scalar(`sum(irate(istio_requests_total{${sel},response_code!~"5.*"}[1m])) / sum(irate(istio_requests_total{${sel}}[1m]))`, at)).toBeCloseTo(0.8, 9);
    // Istio's workload dashboard: outgoing requests by destination service, and their codes.
    const byDestination = Object.fromEntries((await query(`sum(irate(istio_requests_total{${sel}}[1m])) by (destination_service)`, at)).map((s) => [s.metric.destination_service, Number(s.value![1])]));
    expect(Object.keys(byDestination).sort()).toEqual(['app:8080', 'dead:8080', 'unknown']);
    expect(byDestination['app:8080']).toBeCloseTo(perSecond(5), 6);
    expect(byDestination['dead:8080']).toBeCloseTo(perSecond(2), 6);
    expect(byDestination.unknown).toBeCloseTo(perSecond(3), 6);
    // Request duration percentiles: every forwarded request took 300 ms and some, so all five
    // sit in the (250, 500] bucket and histogram_quantile interpolates linearly inside it.
    for (const [q, ms] of [
      [0.5, 375],
      [0.9, 475],
      [0.99, 497.5],
    ]) {
      const got = await scalar(`histogram_quantile(${q}, sum(irate(istio_request_duration_milliseconds_bucket{${sel},destination_service="app:8080"}[1m])) by (le))`, at);
      expect(got).toBeCloseTo(ms, 6);
    }
  }, 120_000);
});
