/**
 * Access logs as the image writes them: the built sidecar in a child process, logging to its own
 * stdout (App Mesh's `/dev/stdout`), real sockets on every side. A known mix of requests and one
 * TCP connection gives exactly one line each, with the fields and flags of how each ended; a
 * stdout nobody reads costs dropped lines, counted, while the sidecar keeps serving.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENDPOINTS_FILE_SCHEMA } from '../../../proxy/contracts/schema-ids';
import { eventually, get, httpRoute, nodeBody, staticCluster, tcpRoute, tcpThroughConnect, type ConfigBody } from '../harness';
import { freePorts } from '../../../bench/ports';
import { startSidecarProcess, type SidecarProcess } from '../hardening/sidecar-process';

type Line = Record<string, unknown>;

let app: Server;
let appPort: number;
let echo: NetServer;
let flakyCalls = 0;
const endpointsFile = join(tmpdir(), `weft-access-log-endpoints-${process.pid}.json`);
/** `--endpoints` of every sidecar here: Cloud Map as a file, where `demo.local/none` has no instance. */
const ENDPOINTS = ['--endpoints', `file:${endpointsFile}`];

beforeAll(async () => {
  writeFileSync(endpointsFile, JSON.stringify({ schema: ENDPOINTS_FILE_SCHEMA, services: { 'demo.local/none': [] } }));
  app = createServer((req, res) => {
    if (req.url === '/missing') return void res.writeHead(404).end('no');
    // The first call of /flaky fails with a gateway error, the retry succeeds.
    if (req.url === '/flaky' && flakyCalls++ === 0) return void res.writeHead(503).end('busy');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as { port: number }).port;
  echo = createNetServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
  await new Promise((r) => echo.close(r));
  rmSync(endpointsFile, { force: true });
});

function body(accessLog: ConfigBody['logging'] extends infer L ? (L extends { accessLog?: infer A } ? A : never) : never): ConfigBody {
  const retry = { maxRetries: 1, perTryTimeoutMs: 5_000, httpRetryEvents: ['server-error'], backoffBaseMs: 1, backoffMaxMs: 1 };
  return {
    ...nodeBody({
      services: [
        {
          name: 'svc.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'http',
              routes: [
                httpRoute('svc/app', { 'app:8080': 1 }, { path: { prefix: '/' } }, { retryPolicy: retry }),
              ],
            },
          ],
        },
        { name: 'none.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('none/r', { 'none:8080': 1 })] }] },
        {
          name: 'echo.demo.local',
          listeners: [{ port: 7000, protocol: 'tcp', routes: [tcpRoute('echo/r', 'echo:7000')] }],
        },
      ],
      clusters: [
        staticCluster('app:8080', [appPort]),
        // Discovered in Cloud Map, where it has no instance: no endpoint to try.
        { ...staticCluster('none:8080', [1]), discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'none' } },
        staticCluster('echo:7000', [(echo.address() as { port: number }).port], { port: 7000, protocol: 'tcp' }),
      ],
    }),
    logging: { accessLog },
  };
}

/** The access log lines among the sidecar's output (its own events carry `event`). */
function accessLines(sidecar: SidecarProcess): Line[] {
  return sidecar
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => !('event' in l));
}

describe('access log lines of a known mix', () => {
  let sidecar: SidecarProcess;
  afterEach(() => sidecar?.stop());

  test("Weft's default JSON line: one per request and per TCP connection, with the fields and flags of how each ended", async () => {
    sidecar = await startSidecarProcess(body({ path: '/dev/stdout' }), ENDPOINTS);
    const svc = { host: 'svc.demo.local:8080' };
    expect((await get(sidecar.ports.egress, '/ok', { ...svc, 'x-request-id': 'req-1' })).status).toBe(200);
    expect((await get(sidecar.ports.egress, '/missing', svc)).status).toBe(404);
    expect((await get(sidecar.ports.egress, '/none', { host: 'none.demo.local:8080' })).status).toBe(503);
    expect((await get(sidecar.ports.egress, '/flaky', svc)).status).toBe(200);
    await tcpThroughConnect(sidecar.ports.egress);
    await eventually(() => accessLines(sidecar).length >= 5, 'five access log lines');

    const lines = accessLines(sidecar);
    expect(lines).toHaveLength(5);
    const byPath = (p: string) => lines.find((l) => l.path === p)!;
    expect(byPath('/ok')).toEqual({
      start_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      method: 'GET',
      authority: 'svc.demo.local:8080',
      path: '/ok',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      grpc_status: null,
      bytes_received: 0,
      bytes_sent: 5,
      duration: expect.any(Number),
      upstream_host: `127.0.0.1:${appPort}`,
      upstream_cluster: 'app:8080',
      route_name: 'svc/app',
      attempts: 1,
      request_id: 'req-1',
      trace_id: null,
      peer_principal: null,
      listener: 'egress',
      error_code: null,
    });
    expect(byPath('/missing')).toMatchObject({ response_code: 404, response_flags: '-', attempts: 1, request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(byPath('/none')).toMatchObject({ route_name: 'none/r', response_code: 503, response_flags: 'UH', upstream_host: null, attempts: 0, error_code: expect.stringMatching(/^WEFT_ERR_/) });
    expect(byPath('/flaky')).toMatchObject({ response_code: 200, response_flags: '-', attempts: 2, upstream_host: `127.0.0.1:${appPort}` });
    expect(lines.find((l) => l.protocol === 'TCP')).toMatchObject({ response_code: 0, bytes_received: 4, bytes_sent: 4, upstream_cluster: 'echo:7000', route_name: 'echo/r' });
  });

  test("App Mesh's text format (Envoy's default line) and a JSON map of operators", async () => {
    const text =
      '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';
    sidecar = await startSidecarProcess(body({ path: '/dev/stdout', format: { text } }), ENDPOINTS);
    await get(sidecar.ports.egress, '/ok', { host: 'svc.demo.local:8080', 'user-agent': 'curl/8.0', 'x-request-id': 'abc' });
    await get(sidecar.ports.egress, '/none', { host: 'none.demo.local:8080', 'user-agent': 'curl/8.0', 'x-request-id': 'def' });
    const textLines = () => sidecar.output().split('\n').filter((l) => l.startsWith('['));
    await eventually(() => textLines().length >= 2, 'two text lines');
    expect(textLines()[0]).toMatch(new RegExp(`^\\[\\d{4}-[^\\]]+Z\\] "GET /ok HTTP/1\\.1" 200 - 0 5 \\d+ \\d+ "-" "curl/8\\.0" "abc" "svc\\.demo\\.local:8080" "127\\.0\\.0\\.1:${appPort}"$`));
    expect(textLines()[1]).toMatch(/^\[[^\]]+\] "GET \/none HTTP\/1\.1" 503 UH 0 \d+ \d+ - "-" "curl\/8\.0" "def" "none\.demo\.local:8080" "-"$/);
    await sidecar.stop();

    const json = { start_time: '%START_TIME%', method: '%REQ(:METHOD)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', line: '%REQ(:METHOD)% %REQ(:PATH):3%', upstream: '%UPSTREAM_HOST%' };
    sidecar = await startSidecarProcess(body({ path: '/dev/stdout', format: { json } }), ENDPOINTS);
    await get(sidecar.ports.egress, '/none', { host: 'none.demo.local:8080' });
    await eventually(() => accessLines(sidecar).length >= 1, 'one JSON line');
    expect(accessLines(sidecar)).toEqual([{ start_time: expect.any(String), method: 'GET', code: 503, flags: 'UH', line: 'GET /no', upstream: null }]);
  });
});

describe('a stdout nobody reads', () => {
  test('drops lines with a count, and the sidecar keeps serving', async () => {
    const [metricsPort] = await freePorts(1);
    const sidecar = await startSidecarProcess(body({ path: '/dev/stdout' }), [...ENDPOINTS, '--metrics', 'prometheus', '--metrics-port', String(metricsPort)]);
    try {
      // Stop reading the child's stdout: the pipe fills, and with it the sidecar's buffer.
      sidecar.child.stdout!.pause();
      const dropped = async () => Number(/^weft_access_log_dropped_lines_total (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/stats/prometheus`)).text())?.[1] ?? -1);
      const big = 'x'.repeat(4_000);
      let served = 0;
      // Each line carries the 4 kB path: a few hundred fill the pipe and the 1 MB buffer.
      while ((await dropped()) === 0) {
        await Promise.all(Array.from({ length: 50 }, () => get(sidecar.ports.egress, `/ok/${big}`, { host: 'svc.demo.local:8080' }).then((r) => (served += r.status === 200 ? 1 : 0))));
      }
      expect(await dropped()).toBeGreaterThan(0);
      expect((await get(sidecar.ports.egress, '/ok', { host: 'svc.demo.local:8080' })).status).toBe(200);
      expect(served).toBeGreaterThan(0);
    } finally {
      sidecar.child.stdout!.resume();
      await sidecar.stop();
    }
  });
});
