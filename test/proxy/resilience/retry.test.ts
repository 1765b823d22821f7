/**
 * The retry layer through real sockets: upstreams that reset, hang or fail, an in-process sidecar
 * in front of them, and the route's retry policy deciding what the client sees.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import { connect as connectHttp2, createServer as createHttp2Server } from 'node:http2';
import { agent, eventually, get, httpRoute, nodeBody, startWith, staticCluster, TIMEOUT, type Running } from '../harness';
import { retryPlan } from '../../../proxy/resilience/retry';
import { RetryPolicySchema } from '../../../proxy/contracts/node-config';
import type { ClusterRuntime } from '../../../proxy/cluster/cluster-runtime';
import type { CompletionRecord } from '../../../proxy/exchange/record';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});
afterAll(() => agent.close());

async function listen<T extends Server | NetServer>(server: T): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

/** Answers each request on a new connection (Connection: close), and resets every other connection before answering. */
async function resettingUpstream(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const reset = n++ % 2 === 0;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (reset) {
        socket.resetAndDestroy();
        return;
      }
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
    socket.on('error', () => undefined);
  });
  closers.push(() => sockets.forEach((s) => s.destroy()));
  const port = await listen(server);
  return { port, connections: () => n };
}

/** An HTTP upstream answering `status` with `body` (after reading the request), counting requests and their bodies. */
async function answering(status: number, body: string): Promise<{ port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return { port: await listen(server), bodies };
}

/** An HTTP upstream that reads requests and never answers. */
async function hanging(): Promise<{ port: number; seen: () => number }> {
  let seen = 0;
  const server = createServer(() => {
    seen++;
  });
  return { port: await listen(server), seen: () => seen };
}

function retryingNode(ports: number[], retryPolicy: Record<string, unknown>, timeout = TIMEOUT, maxRetriesBreaker = 1_000) {
  return nodeBody({
    services: [{ name: 'svc.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('r', { 'svc:8080': 1 }, undefined, { retryPolicy, timeout })] }] }],
    clusters: [staticCluster('svc:8080', ports, { connectionPool: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: maxRetriesBreaker, maxRequestsPerConnection: 0 } } as never)],
  });
}

async function start(body: ReturnType<typeof nodeBody>, overrides: Parameters<typeof startWith>[1] = {}, deps: Parameters<typeof startWith>[2] = {}): Promise<Running> {
  const running = await startWith(body, { randomSeed: 7, ...overrides }, deps);
  closers.push(() => running.close());
  return running;
}

function clusterOf(running: Running): ClusterRuntime {
  return running.handle.store.current!.clusters.get('svc:8080')!;
}

const svc = { host: 'svc.demo.local:8080' };

test("App Mesh's events are Envoy's retry-on conditions; Istio's 5xx,reset,connect-failure is server-error + connection-error", () => {
  const istio = retryPlan(RetryPolicySchema.parse({ maxRetries: 2, perTryTimeoutMs: 0, httpRetryEvents: ['server-error'], tcpRetryEvents: ['connection-error'] }), 15_000);
  expect(istio.statuses[500] && istio.statuses[599] && !istio.statuses[499]).toBe(true);
  expect([...istio.failures].sort()).toEqual(['connect', 'protocol', 'reset', 'tls', 'try-timeout']);
  const gateway = retryPlan(RetryPolicySchema.parse({ maxRetries: 2, perTryTimeoutMs: 1_000, httpRetryEvents: ['gateway-error', 'client-error'], retriableStatusCodes: [429] }), 15_000);
  expect([500, 502, 503, 504, 409, 429].map((s) => gateway.statuses[s] === true)).toEqual([false, true, true, true, true, true]);
  expect(gateway.failures.has('reset')).toBe(false);
  expect(gateway.perTryMs).toBe(1_000);
  const grpc = retryPlan(RetryPolicySchema.parse({ maxRetries: 1, perTryTimeoutMs: 15_000, grpcRetryEvents: ['unavailable', 'resource-exhausted'] }), 15_000);
  expect([...grpc.grpcCodes].sort()).toEqual([14, 8].sort());
  // A per-try timeout at the route timeout (the compiler's default) arms no timer.
  expect(grpc.perTryMs).toBe(0);
});

test('an endpoint that resets every other connection: 1,000 of 1,000 requests succeed, and the attempt count shows the retries', async () => {
  const upstream = await resettingUpstream();
  const running = await start(retryingNode([upstream.port], { maxRetries: 2, perTryTimeoutMs: 0, tcpRetryEvents: ['connection-error'], httpRetryEvents: ['stream-error'], backoffBaseMs: 1, backoffMaxMs: 2 }));
  const egress = running.handle.ports.egress!;
  const statuses = new Map<number, number>();
  const attempts = new Map<string, number>();
  let next = 0;
  // One client: its tries take the connections in turn, so each request meets at most one reset.
  const client = async (): Promise<void> => {
    while (next < 1_000) {
      next++;
      const res = await get(egress, '/', svc);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const count = String(res.headers['x-weft-attempt-count']);
      attempts.set(count, (attempts.get(count) ?? 0) + 1);
    }
  };
  await client();
  expect(Object.fromEntries(statuses)).toEqual({ 200: 1_000 });
  expect(attempts.get('2') ?? 0).toBeGreaterThan(0);
  expect((attempts.get('1') ?? 0) + (attempts.get('2') ?? 0) + (attempts.get('3') ?? 0)).toBe(1_000);
  expect(clusterOf(running).stats.retries).toBe((attempts.get('2') ?? 0) + 2 * (attempts.get('3') ?? 0));
});

test('a slow endpoint: the per-try timeout fires and the next try, on the other endpoint, succeeds', async () => {
  const slow = await hanging();
  const fast = await answering(200, 'fast');
  const running = await start(retryingNode([slow.port, fast.port], { maxRetries: 1, perTryTimeoutMs: 200, httpRetryEvents: ['gateway-error'] }));
  const egress = running.handle.ports.egress!;
  for (let i = 0; i < 6; i++) {
    const res = await get(egress, '/', svc);
    expect(res.status).toBe(200);
    expect(res.text).toBe('fast');
  }
  expect(slow.seen()).toBeGreaterThan(0);
  expect(clusterOf(running).stats.timeouts).toBe(slow.seen());
});

test('every try timing out answers 504 with the per-try code; the route timeout caps the total with its own code', async () => {
  const a = await hanging();
  const b = await hanging();
  const perTry = await start(retryingNode([a.port, b.port], { maxRetries: 1, perTryTimeoutMs: 100, httpRetryEvents: ['gateway-error'] }));
  const res = await get(perTry.handle.ports.egress!, '/', svc);
  expect(res.status).toBe(504);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_PER_TRY_TIMEOUT');
  await eventually(() => a.seen() === 1 && b.seen() === 1, 'one try on each endpoint');

  // 25 retries of 100 ms could take 2.5 s; the route's 300 ms bounds them all.
  const capped = await start(retryingNode([a.port, b.port], { maxRetries: 25, perTryTimeoutMs: 100, httpRetryEvents: ['gateway-error'] }, { perRequestMs: 300, idleMs: 300_000 }));
  const res2 = await get(capped.handle.ports.egress!, '/', svc);
  expect(res2.status).toBe(504);
  expect(res2.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TIMEOUT');
});

test('a body within the replay limit is sent again whole; a POST body over it is sent once', async () => {
  const failing = await answering(503, 'upstream says no');
  const records: CompletionRecord[] = [];
  const running = await start(retryingNode([failing.port], { maxRetries: 2, perTryTimeoutMs: 0, httpRetryEvents: ['gateway-error'] }), { retryBufferBytes: 1_024 }, { onRecord: (r) => records.push(r) });
  const egress = running.handle.ports.egress!;
  const small = 'x'.repeat(1_000);
  const res = await get(egress, '/', svc, 'POST', small);
  expect(res.status).toBe(503);
  expect(res.headers['x-weft-attempt-count']).toBe('3');
  expect(failing.bodies).toEqual([small, small, small]);
  // Retries used up on a retriable status: Envoy's URX, three attempts, the upstream's status.
  await eventually(() => records.length === 1, 'the completion record');
  expect([records[0].attempts, records[0].flags, records[0].status]).toEqual([3, 'URX', 503]);

  failing.bodies.length = 0;
  const large = 'y'.repeat(4_096);
  const res2 = await get(egress, '/', svc, 'POST', large);
  expect(res2.status).toBe(503);
  expect(res2.text).toBe('upstream says no');
  expect(res2.headers['x-weft-attempt-count']).toBe('1');
  expect(failing.bodies).toEqual([large]);
});

test('every endpoint failing, 50 clients: retries in flight stay within max(3, 20% of active requests), and each client gets the upstream error', async () => {
  const a = await answering(503, 'upstream says no');
  const b = await answering(503, 'upstream says no');
  const running = await start(retryingNode([a.port, b.port], { maxRetries: 5, perTryTimeoutMs: 0, httpRetryEvents: ['gateway-error'], backoffBaseMs: 5, backoffMaxMs: 20 }));
  const egress = running.handle.ports.egress!;
  const stats = clusterOf(running).stats;
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, stats.retriesActive);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const bodies = new Map<string, number>();
  const client = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      const res = await get(egress, '/', svc);
      const key = `${res.status} ${res.text}`;
      bodies.set(key, (bodies.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 50 }, client));
  sampling = false;
  await sampler;
  expect(Object.fromEntries(bodies)).toEqual({ '503 upstream says no': 500 });
  // The cluster never has more than the 50 clients' requests active: 20% of that is 10.
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(Math.max(3, Math.floor(0.2 * 50)));
  expect(stats.retryOverflow).toBeGreaterThan(0);
  expect(stats.retriesActive).toBe(0);
});

test('gRPC: a trailers-only response whose grpc-status is a retry event is retried; the next answer goes to the client', async () => {
  let calls = 0;
  const server = createHttp2Server((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      // Trailers-only: the status is in the one HEADERS frame that ends the stream.
      res.stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': calls === 1 ? '14' : '0' }, { endStream: true });
    });
  });
  const port = await listen(server as unknown as NetServer);
  const route = {
    protocol: 'grpc',
    name: 'g',
    priority: 0,
    match: { serviceName: 'weft.test.Echo' },
    action: { weightedTargets: [{ cluster: 'svc:8080', weight: 1 }] },
    retryPolicy: { maxRetries: 2, perTryTimeoutMs: 0, grpcRetryEvents: ['unavailable'] },
    timeout: TIMEOUT,
  };
  const running = await start(
    nodeBody({
      services: [{ name: 'svc.demo.local', listeners: [{ port: 8080, protocol: 'grpc', routes: [route as never] }] }],
      clusters: [staticCluster('svc:8080', [port], { protocol: 'grpc' })],
    }),
  );
  const session = connectHttp2(`http://127.0.0.1:${running.handle.ports.egress!}`);
  closers.push(() => session.close());
  const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': '/weft.test.Echo/Say', ':authority': 'svc.demo.local:8080', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('response', (h) => {
      stream.resume();
      stream.on('end', () => resolve(h));
    });
    stream.on('error', reject);
    stream.end(Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x78]));
  });
  expect(headers['grpc-status']).toBe('0');
  expect(headers['x-weft-attempt-count']).toBe('2');
  expect(calls).toBe(2);
});

test('the route timeout ends the request while a retriable response is being dropped: 504, no further try', async () => {
  let seen = 0;
  // A retriable status whose body never ends.
  const server = createServer((_req, res) => {
    seen++;
    res.writeHead(503, { 'content-length': 100 });
    res.write('partial');
  });
  const port = await listen(server);
  const running = await start(retryingNode([port], { maxRetries: 3, perTryTimeoutMs: 0, httpRetryEvents: ['gateway-error'] }, { perRequestMs: 300, idleMs: 300_000 }));
  const res = await get(running.handle.ports.egress!, '/', svc);
  expect(res.status).toBe(504);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TIMEOUT');
  expect(seen).toBe(1);
  expect(clusterOf(running).stats.retriesActive).toBe(0);
});
