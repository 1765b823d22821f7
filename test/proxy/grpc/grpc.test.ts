/**
 * A real gRPC client and servers (@grpc/grpc-js) through two sidecars: unary and server-streaming
 * calls, statuses and trailing metadata, gRPC route matches by method and metadata choosing the
 * cluster, and the sidecar's own errors answered as gRPC statuses.
 */
import { connect, constants, type IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Echo, Other, startGrpcServer, type EchoClient, type OtherClient, type Reply } from './echo-service';
import { nodeBody, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running } from '../harness';

type Route = ConfigBody['outbound']['services'][number]['listeners'][number]['routes'][number];

function grpcRoute(name: string, cluster: string, match: Record<string, unknown>, timeout = TIMEOUT): Route {
  return { protocol: 'grpc', name, priority: 0, match, action: { weightedTargets: [{ cluster, weight: 1 }] }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout } as Route;
}

function unary(client: EchoClient | OtherClient, method: 'Say' | 'Slow' | 'Ping', message: string, md = new grpc.Metadata()) {
  return new Promise<{ err: grpc.ServiceError | null; res?: Reply; initial?: grpc.Metadata; trailers?: grpc.Metadata }>((resolve) => {
    let initial: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    const call = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)[method](
      { message },
      md,
      { deadline: Date.now() + 10_000 },
      (err: grpc.ServiceError | null, res?: Reply) => setImmediate(() => resolve({ err, res, initial, trailers })),
    );
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

let servers: { server: grpc.Server; port: number }[];
let sideA: Running;
let sideB: Running;
let client: Running;
let echo: EchoClient;
let other: OtherClient;
let down: EchoClient;

beforeAll(async () => {
  servers = await Promise.all([startGrpcServer('grpc-a'), startGrpcServer('grpc-b')]);
  const inbound = [{ port: 8080, protocol: 'grpc' as const, timeout: TIMEOUT }];
  [sideA, sideB] = await Promise.all(
    servers.map((s, i) => startWith(nodeBody({ name: i === 0 ? 'echo-a' : 'echo-b', inbound }), { appPorts: [String(s.port)] })),
  );
  client = await startWith(
    nodeBody({
      services: [
        {
          name: 'echo.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'grpc',
              routes: [
                grpcRoute('count-to-b', 'echo-b:8080', { serviceName: 'weft.test.Echo', methodName: 'Count' }),
                grpcRoute('canary-to-b', 'echo-b:8080', { serviceName: 'weft.test.Echo', metadata: [{ name: 'x-canary', match: { exact: 'yes' } }] }),
                grpcRoute('slow', 'echo-a:8080', { serviceName: 'weft.test.Echo', methodName: 'Slow' }, { perRequestMs: 300, idleMs: 300_000 }),
                grpcRoute('echo', 'echo-a:8080', { serviceName: 'weft.test.Echo' }),
              ],
            },
          ],
        },
        { name: 'down.demo.local', listeners: [{ port: 8080, protocol: 'grpc', routes: [grpcRoute('down', 'down:8080', {})] }] },
      ],
      clusters: [
        staticCluster('echo-a:8080', [sideA.handle.ports.inbound!], { protocol: 'grpc' }),
        staticCluster('echo-b:8080', [sideB.handle.ports.inbound!], { protocol: 'grpc' }),
        // Nothing listens on port 1 of the loopback: connections are refused.
        staticCluster('down:8080', [1], { protocol: 'grpc' }),
      ],
    }),
  );
  const target = `127.0.0.1:${client.handle.ports.egress!}`;
  const creds = grpc.credentials.createInsecure();
  echo = new Echo(target, creds, { 'grpc.default_authority': 'echo.demo.local:8080' }) as unknown as EchoClient;
  other = new Other(target, creds, { 'grpc.default_authority': 'echo.demo.local:8080' }) as unknown as OtherClient;
  down = new Echo(target, creds, { 'grpc.default_authority': 'down.demo.local:8080' }) as unknown as EchoClient;
}, 30_000);

afterAll(async () => {
  for (const c of [echo, other, down]) c?.close();
  await Promise.all([client?.close(), sideA?.close(), sideB?.close()]);
  for (const s of servers ?? []) s.server.forceShutdown();
});

test('unary call through two sidecars: reply, initial and trailing metadata intact', async () => {
  const md = new grpc.Metadata();
  md.set('x-tenant', 'acme');
  const { err, res, initial, trailers } = await unary(echo, 'Say', 'hello', md);
  expect(err).toBeNull();
  expect(res).toEqual({ message: 'hello', server: 'grpc-a', tenant: 'acme' });
  expect(initial?.get('x-initial')).toEqual(['hello']);
  expect(trailers?.get('x-served-by')).toEqual(['grpc-a']);
});

test('an error status with its message and trailing metadata crosses both sidecars', async () => {
  const { err } = await unary(echo, 'Say', 'fail');
  expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(err?.details).toBe('the order is closed: ✗ 100%');
  expect(err?.metadata.get('x-served-by')).toEqual(['grpc-a']);
  expect(err?.metadata.get('x-weft-error')).toEqual([]);
});

test('server streaming through two sidecars, routed by method to another cluster', async () => {
  const md = new grpc.Metadata();
  md.set('x-tenant', 'globex');
  const call = echo.Count({ n: 5 }, md);
  const replies: Reply[] = [];
  call.on('data', (r: Reply) => replies.push(r));
  const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  expect(status.code).toBe(grpc.status.OK);
  expect(status.metadata.get('x-count')).toEqual(['5']);
  expect(replies.map((r) => r.message)).toEqual(['#1', '#2', '#3', '#4', '#5']);
  expect(new Set(replies.map((r) => `${r.server}/${r.tenant}`))).toEqual(new Set(['grpc-b/globex']));
});

test('a gRPC client behind grpc_proxy: HTTP/2 inside the CONNECT tunnel is routed like any call', async () => {
  process.env.grpc_proxy = `http://127.0.0.1:${client.handle.ports.egress!}`;
  let proxied: EchoClient;
  try {
    proxied = new Echo('echo.demo.local:8080', grpc.credentials.createInsecure()) as unknown as EchoClient;
  } finally {
    delete process.env.grpc_proxy;
  }
  try {
    const md = new grpc.Metadata();
    md.set('x-canary', 'yes');
    const [a, b] = await Promise.all([unary(proxied, 'Say', 'via-proxy'), unary(proxied, 'Say', 'canary', md)]);
    expect(a.res).toMatchObject({ message: 'via-proxy', server: 'grpc-a' });
    expect(b.res).toMatchObject({ message: 'canary', server: 'grpc-b' });
  } finally {
    proxied.close();
  }
});

test('a gRPC route matching metadata sends the call to its cluster', async () => {
  const md = new grpc.Metadata();
  md.set('x-canary', 'yes');
  const [canary, plain] = await Promise.all([unary(echo, 'Say', 'c', md), unary(echo, 'Say', 'p')]);
  expect(canary.res?.server).toBe('grpc-b');
  expect(plain.res?.server).toBe('grpc-a');
});

test('no route: UNIMPLEMENTED from the sidecar, with x-weft-error', async () => {
  const { err } = await unary(other, 'Ping', 'x');
  expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
  expect(err?.metadata.get('x-weft-error')).toEqual(['WEFT_ERR_NO_ROUTE']);
});

test('unreachable upstream: UNAVAILABLE from the sidecar', async () => {
  const { err } = await unary(down, 'Say', 'x');
  expect(err?.code).toBe(grpc.status.UNAVAILABLE);
  expect(err?.metadata.get('x-weft-error')).toEqual(['WEFT_ERR_UPSTREAM_CONNECT']);
});

test('route timeout: DEADLINE_EXCEEDED from the sidecar', async () => {
  const { err } = await unary(echo, 'Slow', 'x');
  expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  expect(err?.metadata.get('x-weft-error')).toEqual(['WEFT_ERR_UPSTREAM_TIMEOUT']);
});

test('grpc-timeout bounds the route timeout; the status is one trailers-only HEADERS frame', async () => {
  // Raw HTTP/2, so no client-side deadline races the sidecar's. The canary route allows 15 s.
  const session = connect(`http://127.0.0.1:${client.handle.ports.egress!}`);
  try {
    const result = await new Promise<{ headers: IncomingHttpHeaders; endAfterHeaders: boolean; data: number }>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/weft.test.Echo/Slow',
        ':authority': 'echo.demo.local:8080',
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '200m',
        'x-canary': 'yes',
      });
      let data = 0;
      stream.on('response', (headers, flags) => {
        const endAfterHeaders = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        stream.on('data', (d: Buffer) => (data += d.length));
        stream.on('end', () => resolve({ headers, endAfterHeaders, data }));
      });
      stream.on('error', reject);
      // One uncompressed message: EchoRequest { message: "x" }.
      stream.end(Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x78]));
    });
    expect(result.headers[':status']).toBe(200);
    expect(result.headers['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(result.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TIMEOUT');
    expect(result.headers['grpc-message']).toMatch(/^WEFT_ERR_UPSTREAM_TIMEOUT/);
    expect(result.endAfterHeaders).toBe(true);
    expect(result.data).toBe(0);
  } finally {
    session.close();
  }
});
