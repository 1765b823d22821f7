/**
 * A known request mix through a real sidecar with `--metrics prometheus,emf` (successes, 404s, a
 * 503, retried requests, a call denied by authorization, a TCP stream): the Prometheus text on
 * the admin port and on the read-only metrics port counts exactly the mix, and passes
 * `promtool check metrics` (Debian's `prometheus` package) when promtool is installed.
 */
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { agent, eventually, get, tcpThroughConnect, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';

let app: Upstream;
let flaky: HttpServer;
let echo: NetServer;
let sidecar: Running;
let deadPort: number;

beforeAll(async () => {
  app = await startUpstream('app');
  echo = createNetServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const probe = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  // Answers 503 to every other request: a route that retries server errors turns each pair into one 200.
  let calls = 0;
  flaky = createHttpServer((_req, res) => res.writeHead(++calls % 2 === 1 ? 503 : 200, { 'content-length': 0 }).end());
  await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
  const route = (name: string, cluster: string, prefix: string, priority: number, extra: Record<string, unknown> = {}) => httpRoute(name, { [cluster]: 1 }, { path: { prefix } }, { priority, ...extra });
  const retryServerErrors = { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 0, httpRetryEvents: ['server-error'] } };
  const body = nodeBody({
    name: 'client',
    inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT }],
    services: [
      {
        name: 'svc.demo.local',
        listeners: [{ port: 8080, protocol: 'http', routes: [route('svc/ok', 'app:8080', '/ok', 0), route('svc/dead', 'dead:8080', '/dead', 1), route('svc/flaky', 'flaky:8080', '/flaky', 2, retryServerErrors)] }],
      },
      { name: 'echo.demo.local', listeners: [{ port: 7000, protocol: 'tcp', routes: [{ protocol: 'tcp', name: 'echo/r', priority: 0, match: {}, action: { weightedTargets: [{ cluster: 'echo:7000', weight: 1 }] }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout: TIMEOUT }] }] },
    ],
    clusters: [
      staticCluster('app:8080', [app.port]),
      staticCluster('dead:8080', [deadPort]),
      staticCluster('flaky:8080', [(flaky.address() as { port: number }).port]),
      staticCluster('echo:7000', [(echo.address() as { port: number }).port], { port: 7000, protocol: 'tcp' }),
    ],
  });
  // The node's own inbound listener denies /denied: a call refused by authorization.
  body.inbound.policy = { authorization: [{ name: 'deny-denied', action: 'DENY', rules: [{ to: [{ paths: ['/denied'] }] }] }] };
  sidecar = await startWith(
    body,
    { appPorts: [String(app.port)], metrics: 'prometheus,emf', metricsPort: 0 },
    { emfWriter: (_chunk, done) => done(null) },
  );
});

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close(), new Promise((r) => echo.close(r)), new Promise((r) => flaky.close(r))]);
});

const svc = { host: 'svc.demo.local:8080' };

/** The value of the one sample whose name is `name` and whose labels include every `labels` pair. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

test('a known mix is counted exactly, on the admin port and on the metrics port', async () => {
  const egress = sidecar.handle.ports.egress!;
  for (let i = 0; i < 3; i++) expect((await get(egress, `/ok/${i}`, svc)).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await get(egress, '/nowhere', svc)).status).toBe(404);
  expect((await get(egress, '/dead', svc)).status).toBe(503);
  expect((await get(sidecar.handle.ports.inbound!, '/in', { host: 'client' })).status).toBe(200);
  // Retried: the first try answers 503, the retry 200; one request, one retry.
  for (let i = 0; i < 2; i++) expect((await get(egress, `/flaky/${i}`, svc)).status).toBe(200);
  expect((await get(sidecar.handle.ports.inbound!, '/denied', { host: 'client' })).status).toBe(403);
  await tcpThroughConnect(egress);
  await eventually(() => sidecar.handle.stats.tunnels === 0 && sidecar.handle.stats.egress.active === 0, 'the sidecar to have nothing in flight');

  const admin = await get(sidecar.handle.ports.admin, '/stats/prometheus');
  expect(admin.status).toBe(200);
  expect(admin.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = admin.text;
  const requests = 'istio_requests_total';
  expect(sample(text, requests, { reporter: 'source', response_code: '200', route: 'svc/ok', destination_service: 'app:8080', source_workload: 'client', response_flags: '-' })).toBe(3);
  expect(sample(text, requests, { reporter: 'source', response_code: '404', response_flags: 'NR', destination_service: 'unknown' })).toBe(2);
  expect(sample(text, requests, { reporter: 'source', response_code: '503', response_flags: 'UF', destination_service: 'dead:8080', route: 'svc/dead' })).toBe(1);
  expect(sample(text, requests, { reporter: 'destination', response_code: '200', destination_workload: 'client', connection_security_policy: 'none' })).toBe(1);
  expect(sample(text, requests, { reporter: 'source', response_code: '200', route: 'svc/flaky', destination_service: 'flaky:8080' })).toBe(2);
  expect(sample(text, 'weft_cluster_retries_total', { cluster: 'flaky:8080' })).toBe(2);
  expect(sample(text, requests, { reporter: 'destination', response_code: '403', response_flags: 'RBAC' })).toBe(1);
  expect(text).toContain('weft_policy_denials_total 1\n');
  expect(sample(text, requests, {})).toBe(10);
  expect(sample(text, 'istio_request_duration_milliseconds_count', {})).toBe(10);
  expect(sample(text, 'istio_request_duration_milliseconds_bucket', { le: '+Inf' })).toBe(10);
  expect(sample(text, 'istio_response_bytes_count', { response_code: '200', reporter: 'source', route: 'svc/ok' })).toBe(3);
  expect(sample(text, 'istio_tcp_connections_closed_total', { route: 'echo/r', destination_service: 'echo:7000' })).toBe(1);
  expect(sample(text, 'istio_tcp_connections_opened_total', {})).toBe(1);
  expect(sample(text, 'istio_tcp_received_bytes_total', { route: 'echo/r' })).toBe(4);
  expect(sample(text, 'istio_tcp_sent_bytes_total', { route: 'echo/r' })).toBe(4);
  expect(sample(text, 'weft_cluster_connect_failures_total', { cluster: 'dead:8080' })).toBeGreaterThanOrEqual(1);
  expect(text).toContain('weft_config_reloads_total 1\n');
  expect(text).toContain(`weft_config_info{version="${sidecar.handle.store.current!.version}"} 1\n`);
  expect(text).toContain('weft_metrics_series_overflow_total 0\n');
  expect(text).toContain('weft_emf_dropped_lines_total 0\n');

  const scraped = await get(sidecar.handle.ports.metrics!, '/stats/prometheus');
  expect(scraped.status).toBe(200);
  expect(sample(scraped.text, requests, {})).toBe(10);
});

test('the metrics port serves only GET /stats/prometheus: no admin endpoint is reachable through it', async () => {
  const port = sidecar.handle.ports.metrics!;
  expect((await get(port, '/drain', {}, 'POST')).status).toBe(404);
  expect((await get(port, '/stats')).status).toBe(404);
  expect((await get(port, '/config_dump')).status).toBe(404);
  expect((await get(port, '/stats/prometheus', {}, 'POST')).status).toBe(405);
  expect(sidecar.handle.stats.inbound.requests).toBeGreaterThanOrEqual(0);
  expect((await get(sidecar.handle.ports.admin, '/ready')).status).toBe(200);
});

const promtool = spawnSync('promtool', ['--version']).status === 0;

(promtool ? test : test.skip)('promtool check metrics: no problem but the one Istio\'s own name has', async () => {
  const text = (await get(sidecar.handle.ports.admin, '/stats/prometheus')).text;
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  // Exit 3 is lint problems; 1 a parse error. Istio's standard name keeps milliseconds, which
  // promtool's lint flags (Istio's own sidecars get the same line); anything else is ours.
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
  expect(problems.filter((p) => !p.startsWith('istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"'))).toEqual([]);
  expect([0, 3]).toContain(run.status);
});
if (!promtool) console.log('promtool not installed (Debian package `prometheus`): the promtool check is skipped');
