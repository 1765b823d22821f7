/**
 * Active health checks through real sockets: HTTP/1.1, HTTP/2, the gRPC health protocol and TCP,
 * each against a real server whose health the test flips.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { ClusterRuntime } from '../../../proxy/cluster/cluster-runtime';
import { ClusterSchema, type HealthCheck } from '../../../proxy/contracts';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';
import { UNHEALTHY_CHECKS, type Endpoint } from '../../../proxy/endpoints/endpoint';
import { HealthChecker } from '../../../proxy/health';
import { GRPC_HEALTH_PATH, servingStatus } from '../../../proxy/health/probes';
import { seededRandom } from '../../../proxy/seeded-random';
import { eventually } from '../harness';
import { ManualSource } from '../fixtures/manual-endpoint-source';

const ep = (port: number): DiscoveredEndpoint => ({ id: `127.0.0.1:${port}`, address: '127.0.0.1', port, zone: undefined, weight: 1, healthy: true });
const listen = async (server: Server | Http2Server | TcpServer): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
};
const close = (server: Server | Http2Server | TcpServer) => new Promise((r) => server.close(r));

/** A cluster checked every 50 ms (5 s scaled to 1%), each check bounded by 300 ms. */
function checked(protocol: HealthCheck['protocol'], ports: number[]) {
  const def = ClusterSchema.parse({
    name: 'orders:8080',
    virtualNode: 'orders',
    port: 8080,
    protocol: protocol === 'grpc' ? 'grpc' : protocol === 'http2' ? 'http2' : 'http',
    discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders' },
    healthCheck: { protocol, path: '/health', intervalMs: 5_000, timeoutMs: 30_000, healthyThreshold: 2, unhealthyThreshold: 3 },
  });
  const source = new ManualSource();
  const runtime = new ClusterRuntime(def, 'k', undefined, source, undefined, seededRandom(7));
  const checker = new HealthChecker(runtime, def.healthCheck!, { scalePercent: 1 });
  runtime.addMonitor(checker);
  // Each flip of the checks' bit, with the run of results that caused it.
  const flips: { id: string; unhealthy: boolean; run: number }[] = [];
  const setHealth = runtime.setHealth.bind(runtime);
  runtime.setHealth = (e, bit, unhealthy) => {
    const state = checker.describe(e)!.healthCheck as { successes: number; failures: number };
    if (bit === UNHEALTHY_CHECKS && ((e.health & bit) !== 0) !== unhealthy) flips.push({ id: e.id, unhealthy, run: unhealthy ? state.failures : state.successes });
    setHealth(e, bit, unhealthy);
  };
  source.push(ports.map(ep));
  return { runtime, checker, flips, source };
}

const failing = (e: Endpoint) => (e.health & UNHEALTHY_CHECKS) !== 0;

/**
 * Flips the server unhealthy, then healthy again, and checks that the endpoint leaves after exactly
 * `unhealthyThreshold` failed checks and returns after exactly `healthyThreshold` good ones.
 */
async function flipOutAndBack(protocol: HealthCheck['protocol'], port: number, setHealthy: (healthy: boolean) => void) {
  const { runtime, flips } = checked(protocol, [port]);
  try {
    const [e] = runtime.currentEndpoints;
    // A new endpoint waits for its first check; one success lets it in.
    await eventually(() => !failing(e), 'the first check to pass');
    expect(flips).toEqual([{ id: e.id, unhealthy: false, run: 1 }]);
    setHealthy(false);
    await eventually(() => failing(e), 'the endpoint to fail its checks');
    expect(flips[1]).toEqual({ id: e.id, unhealthy: true, run: 3 });
    setHealthy(true);
    await eventually(() => !failing(e), 'the endpoint to pass its checks again');
    expect(flips[2]).toEqual({ id: e.id, unhealthy: false, run: 2 });
    expect(runtime.stats.healthChecks).toBeGreaterThanOrEqual(6);
    expect(runtime.stats.healthCheckFailures).toBeGreaterThanOrEqual(3);
  } finally {
    await runtime.close();
  }
}

test('HTTP/1.1: the configured path, status 200 is healthy', async () => {
  let healthy = true;
  const paths = new Set<string>();
  const server = createServer((req, res) => {
    paths.add(req.url!);
    res.writeHead(healthy ? 200 : 503).end();
  });
  const port = await listen(server);
  try {
    await flipOutAndBack('http', port, (h) => (healthy = h));
    expect([...paths]).toEqual(['/health']);
  } finally {
    server.closeAllConnections();
    await close(server);
  }
});

test('HTTP/2: the configured path over h2c', async () => {
  let healthy = true;
  const server = createH2Server();
  server.on('stream', (stream, headers) => stream.respond({ ':status': healthy && headers[':path'] === '/health' ? 200 : 503 }, { endStream: true }));
  const port = await listen(server);
  try {
    await flipOutAndBack('http2', port, (h) => (healthy = h));
  } finally {
    await close(server);
  }
});

test('gRPC: grpc.health.v1.Health/Check answering SERVING, then NOT_SERVING', async () => {
  let serving = true;
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    stream.resume();
    stream.on('end', () => {
      if (headers[':path'] !== GRPC_HEALTH_PATH || headers['content-type'] !== 'application/grpc') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // HealthCheckResponse { status: SERVING (1) | NOT_SERVING (2) }
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, serving ? 1 : 2]));
    });
  });
  const port = await listen(server);
  try {
    await flipOutAndBack('grpc', port, (h) => (serving = h));
  } finally {
    await close(server);
  }
});

test('TCP: a connection made is healthy, a refused one is not', async () => {
  let server = createTcpServer((s) => s.destroy());
  const port = await listen(server);
  try {
    await flipOutAndBack('tcp', port, (healthy) => {
      if (!healthy) {
        void close(server);
      } else {
        server = createTcpServer((s) => s.destroy());
        server.listen(port, '127.0.0.1');
      }
    });
  } finally {
    await close(server);
  }
});

test('an endpoint discovery drops stops being checked; one it adds starts unhealthy until checked', async () => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200).end();
  });
  const other = createServer((_req, res) => res.writeHead(200).end());
  const [port, otherPort] = [await listen(server), await listen(other)];
  const { runtime, source } = checked('http', [port]);
  try {
    await eventually(() => hits >= 2, 'two checks');
    source.push([ep(otherPort)]);
    const [added] = runtime.currentEndpoints;
    expect(failing(added)).toBe(true);
    const before = hits;
    await eventually(() => !failing(added), 'the new endpoint to pass its first check');
    // A check already sent may still land; none is sent after it.
    await eventually(() => (runtime.stats.healthChecks as number) >= 6, 'more checks of the new endpoint');
    expect(hits - before).toBeLessThanOrEqual(1);
  } finally {
    await runtime.close();
    server.closeAllConnections();
    other.closeAllConnections();
    await Promise.all([close(server), close(other)]);
  }
});

test('a check that does not answer within the timeout fails', async () => {
  const server = createServer(() => undefined); // never answers
  const port = await listen(server);
  const { runtime, checker } = checked('http', [port]);
  try {
    const [e] = runtime.currentEndpoints;
    await eventually(() => (checker.describe(e)!.healthCheck as { last: string }).last === 'timeout', 'a check to time out');
    expect(failing(e)).toBe(true);
  } finally {
    await runtime.close();
    server.closeAllConnections();
    await close(server);
  }
});

test('servingStatus reads the status of a framed HealthCheckResponse', () => {
  expect(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1]))).toBe(1);
  expect(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 2]))).toBe(2);
  expect(servingStatus(Buffer.from([0, 0, 0, 0, 0]))).toBe(0);
  expect(servingStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 1]))).toBe(0); // compressed
});
