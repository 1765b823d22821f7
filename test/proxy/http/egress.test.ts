import { request as httpRequest } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, tcpRoute, type Running, type Upstream } from '../harness';

let v1: Upstream;
let v2: Upstream;
let canary: Upstream;
let outside: Upstream;
let tcpEcho: TcpServer;
let tcpPort: number;

beforeAll(async () => {
  [v1, v2, canary, outside] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startUpstream('canary'), startUpstream('outside')]);
  tcpEcho = createTcpServer((s) => s.pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', r));
  tcpPort = (tcpEcho.address() as { port: number }).port;
});
afterAll(async () => {
  await Promise.all([v1.close(), v2.close(), canary.close(), outside.close(), agent.close()]);
  await new Promise((r) => tcpEcho.close(r));
});

function ordersBody(egressFilter: 'ALLOW_ALL' | 'DROP_ALL') {
  return nodeBody({
    egressFilter,
    services: [
      {
        name: 'orders.demo.local',
        listeners: [
          {
            port: 8080,
            protocol: 'http',
            routes: [
              httpRoute('orders/canary', { 'canary:8080': 1 }, { path: { prefix: '/' }, headers: [{ name: 'x-canary', match: { exact: 'yes' } }] }),
              httpRoute('orders/split', { 'v1:8080': 90, 'v2:8080': 10 }),
            ],
          },
        ],
      },
      { name: 'echo.demo.local', listeners: [{ port: 9000, protocol: 'tcp', routes: [tcpRoute('echo/tcp', 'echo:9000')] }] },
    ],
    clusters: [
      staticCluster('v1:8080', [v1.port]),
      staticCluster('v2:8080', [v2.port]),
      staticCluster('canary:8080', [canary.port]),
      staticCluster('echo:9000', [tcpPort], { port: 9000, protocol: 'tcp' }),
    ],
  });
}

/** An HTTP_PROXY-style request: absolute-form target sent to the proxy port. */
function proxyGet(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, headers: { host: new URL(target).host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a CONNECT tunnel; resolves with the status line's code and the socket. */
function connectTunnel(port: number, authority: string): Promise<{ status: number; socket: Socket; error: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'CONNECT', path: authority, agent: false });
    // Node reports every CONNECT answer as 'connect', whatever its status.
    req.on('connect', (res, socket) => resolve({ status: res.statusCode!, socket, error: res.headers['x-weft-error'] as string | undefined }));
    req.on('error', reject);
    req.end();
  });
}

describe('egress listener (DROP_ALL mesh)', () => {
  let sidecar: Running;
  let port: number;
  beforeAll(async () => {
    // Seeded: the 90/10 split test below counts the same choices on every run.
    sidecar = await startWith(ordersBody('DROP_ALL'), { randomSeed: 1 });
    port = sidecar.handle.ports.egress!;
  });
  afterAll(() => sidecar.close());

  test('a Host header naming a virtual service reaches the service', async () => {
    const res = await get(port, '/orders/1', { host: 'orders.demo.local', 'x-canary': 'yes' });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ name: 'canary', url: '/orders/1' });
  });

  test('an absolute-form request from an HTTP_PROXY client reaches the service', async () => {
    const res = await proxyGet(port, 'http://orders.demo.local:8080/abs?q=1', { 'x-canary': 'yes', 'proxy-authorization': 'Basic Zm9vOmJhcg==' });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body);
    expect(seen).toMatchObject({ name: 'canary', url: '/abs?q=1' });
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers.host).toBe('orders.demo.local:8080');
  });

  test('large bodies stream through both ways intact', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    const res = await get(port, '/upload', { host: 'orders.demo.local', 'x-canary': 'yes' }, 'POST', big);
    expect(res.status).toBe(200);
    expect(res.json().body.length).toBe(big.length);
  });

  test('a header route beats the weighted default route', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 30; i++) names.add((await get(port, '/', { host: 'orders.demo.local', 'x-canary': 'yes' })).json().name);
    expect([...names]).toEqual(['canary']);
  });

  test('weighted split 90/10 holds through the real proxy (10,000 requests, ±2 pp)', async () => {
    const counts: Record<string, number> = { v1: 0, v2: 0 };
    const total = 10_000;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const res = await get(port, '/split', { host: 'orders.demo.local' });
        counts[res.json().name]++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(counts.v1 + counts.v2).toBe(total);
    expect(Math.abs(counts.v1 / total - 0.9)).toBeLessThanOrEqual(0.02);
  });

  test('an unknown host is refused with WEFT_ERR_EGRESS_DENIED and a clear body', async () => {
    const before = outside.seen.length;
    const res = await get(port, '/', { host: `127.0.0.1:${outside.port}` });
    expect(res.status).toBe(404);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_EGRESS_DENIED');
    expect(res.text).toContain('DROP_ALL');
    expect(outside.seen.length).toBe(before);
  });

  test('CONNECT to a mesh HTTP service tunnels, and requests inside are routed', async () => {
    const { status, socket } = await connectTunnel(port, 'orders.demo.local:8080');
    expect(status).toBe(200);
    const body = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => {
        data += d;
        if (data.includes('"name"')) resolve(data);
      });
      socket.write('GET /in-tunnel HTTP/1.1\r\nHost: orders.demo.local\r\nx-canary: yes\r\n\r\n');
    });
    socket.destroy();
    expect(body).toMatch(/^HTTP\/1.1 200/);
    expect(body).toContain('"name":"canary"');
    expect(body).toContain('"url":"/in-tunnel"');
  });

  test('CONNECT to a mesh TCP service tunnels bytes to the cluster', async () => {
    const { status, socket } = await connectTunnel(port, 'echo.demo.local:9000');
    expect(status).toBe(200);
    const echoed = await new Promise<string>((resolve) => {
      socket.once('data', (d) => resolve(d.toString()));
      socket.write('ping');
    });
    socket.destroy();
    expect(echoed).toBe('ping');
  });

  test('CONNECT to a destination outside the mesh is refused under DROP_ALL', async () => {
    const res = await connectTunnel(port, `127.0.0.1:${outside.port}`);
    expect(res.status).toBe(404);
    expect(res.error).toBe('WEFT_ERR_EGRESS_DENIED');
    res.socket.destroy();
  });

  test('a port the virtual service does not listen on is not the service', async () => {
    const res = await get(port, '/', { host: 'orders.demo.local:9999' });
    expect(res.status).toBe(404);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_EGRESS_DENIED');
  });
});

describe('egress listener (ALLOW_ALL mesh)', () => {
  let sidecar: Running;
  let port: number;
  beforeAll(async () => {
    sidecar = await startWith(ordersBody('ALLOW_ALL'));
    port = sidecar.handle.ports.egress!;
  });
  afterAll(() => sidecar.close());

  test('an unknown host passes through to the real destination', async () => {
    const res = await get(port, '/direct', { host: `127.0.0.1:${outside.port}` });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ name: 'outside', url: '/direct' });
  });

  test('absolute-form requests to outside hosts pass through', async () => {
    const res = await proxyGet(port, `http://127.0.0.1:${outside.port}/abs-out`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ name: 'outside', url: '/abs-out' });
  });

  test('CONNECT to any destination tunnels', async () => {
    const { status, socket } = await connectTunnel(port, `127.0.0.1:${outside.port}`);
    expect(status).toBe(200);
    const body = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => {
        data += d;
        if (data.includes('"name"')) resolve(data);
      });
      socket.write(`GET /through HTTP/1.1\r\nHost: 127.0.0.1:${outside.port}\r\n\r\n`);
    });
    socket.destroy();
    expect(body).toContain('"name":"outside"');
  });

  test('a request to the egress port itself is refused as a loop', async () => {
    const res = await get(port, '/', { host: `127.0.0.1:${port}` });
    expect(res.status).toBe(508);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_EGRESS_LOOP');
  });
});
