import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { HealthCheck } from '../../../proxy/contracts/node-config';
import { probeOnce } from '../../../proxy/health/probe';

const check = (protocol: HealthCheck['protocol'], path = '/health'): HealthCheck => ({ protocol, path, intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 });
const portOf = (s: { address(): unknown }) => (s.address() as AddressInfo).port;
const listen = <T extends { listen(port: number, host: string, cb: () => void): unknown }>(s: T) => new Promise<T>((r) => s.listen(0, '127.0.0.1', () => r(s)));
const close = (s: { close(cb: () => void): unknown }) => new Promise<void>((r) => s.close(() => r()));

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = await listen(createTcpServer());
  const port = portOf(s);
  await close(s);
  return port;
}

describe('http', () => {
  let status = 200;
  let hang = false;
  const paths: string[] = [];
  let server: Server;
  beforeAll(async () => {
    server = await listen(
      createHttpServer((req, res) => {
        paths.push(req.url ?? '');
        if (hang) return;
        res.writeHead(status).end('x');
      }),
    );
  });
  afterAll(async () => {
    server.closeAllConnections();
    await close(server);
  });

  test('2xx and 3xx pass, other statuses fail with the status, on the configured path', async () => {
    status = 200;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http', '/healthz'), 2_000)).toBeUndefined();
    expect(paths.at(-1)).toBe('/healthz');
    status = 302;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http'), 2_000)).toBeUndefined();
    status = 500;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http'), 2_000)).toBe('status 500');
    status = 404;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http'), 2_000)).toBe('status 404');
  });

  test('an app that does not answer fails at the timeout', async () => {
    hang = true;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http'), 100)).toBe('timeout');
    hang = false;
  });

  test('a refused connection fails', async () => {
    expect(await probeOnce('127.0.0.1', await deadPort(), check('http'), 2_000)).toBe('ECONNREFUSED');
  });
});

describe('http2 and gRPC', () => {
  let status = 200;
  let serving = 1;
  let server: Http2Server;
  beforeAll(async () => {
    server = await listen(
      createH2Server().on('stream', (stream: ServerHttp2Stream, headers) => {
        if (headers[':path'] === '/grpc.health.v1.Health/Check') {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          // HealthCheckResponse{status}: field 1 varint; UNKNOWN (0) is the empty message.
          const message = serving === 0 ? Buffer.alloc(0) : Buffer.from([0x08, serving]);
          const prefix = Buffer.from([0, 0, 0, 0, message.length]);
          stream.resume();
          stream.end(Buffer.concat([prefix, message]));
          return;
        }
        stream.respond({ ':status': status });
        stream.end('x');
      }),
    );
  });
  afterAll(() => close(server));

  test('http2: the status decides', async () => {
    status = 200;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http2'), 2_000)).toBeUndefined();
    status = 503;
    expect(await probeOnce('127.0.0.1', portOf(server), check('http2'), 2_000)).toBe('status 503');
  });

  test('grpc: SERVING passes; NOT_SERVING and UNKNOWN fail', async () => {
    serving = 1;
    expect(await probeOnce('127.0.0.1', portOf(server), check('grpc'), 2_000)).toBeUndefined();
    serving = 2;
    expect(await probeOnce('127.0.0.1', portOf(server), check('grpc'), 2_000)).toBe('not SERVING');
    serving = 0;
    expect(await probeOnce('127.0.0.1', portOf(server), check('grpc'), 2_000)).toBe('not SERVING');
  });

  test('a refused connection fails', async () => {
    expect(await probeOnce('127.0.0.1', await deadPort(), check('grpc'), 2_000)).toBe('ECONNREFUSED');
  });
});

test('tcp: a connection that opens passes, a refused one fails', async () => {
  const server = await listen(createTcpServer((s) => s.destroy()));
  const port = portOf(server);
  expect(await probeOnce('127.0.0.1', port, check('tcp'), 2_000)).toBeUndefined();
  await close(server);
  expect(await probeOnce('127.0.0.1', port, check('tcp'), 2_000)).toBe('ECONNREFUSED');
});
