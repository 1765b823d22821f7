/**
 * The edges of a mesh as an attacker meets them: absolute-form targets on the inbound and gateway
 * listeners, `x-weft-*` fields forged by upstreams that are not sidecars, the admin port from a
 * browser's point of view. Three sidecars run as the image's bundle in child processes, with
 * mTLS between them and a CA made by openssl.
 */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { freePorts } from '../../../bench/ports';
import { agent, httpRoute, nodeBody, startUpstream, staticCluster, TIMEOUT, type ConfigBody, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';
import { rawExchange } from './raw-http';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';
const SERVER_ID = 'spiffe://weft.test/ns/demo/sa/server';
const EDGE_ID = 'spiffe://weft.test/ns/demo/sa/edge';

let pki: TestPki;
let ca: string;
let clientCerts: string;
let app: Upstream;
let forger: NetServer;
let server: SidecarProcess;
let client: SidecarProcess;
let edge: SidecarProcess;
let edgePort: number;

const mtls = (sans: string[]) => ({ mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: sans });
const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [] } };

/**
 * A server that is not a sidecar and claims to be one: every response carries `x-weft-*` fields
 * (as headers, as a trailer, and on a 101).
 */
function startForger(): Promise<NetServer> {
  const server = createNetServer((socket) => {
    let seen = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      if (/^upgrade:/im.test(seen)) {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Weft-Error: WEFT_ERR_FAKE\r\n\r\n');
        return;
      }
      seen = '';
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Weft-Error: WEFT_ERR_FAKE\r\nX-Weft-Overloaded: true\r\nTransfer-Encoding: chunked\r\nTrailer: X-Weft-Target-Port\r\n\r\n' +
          '5\r\nhello\r\n0\r\nX-Weft-Target-Port: 1\r\nX-Checksum: 42\r\n\r\n',
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  pki = new TestPki();
  ca = pki.ca('mesh-ca');
  clientCerts = pki.leaf('client', CLIENT_ID, ca);
  const serverCerts = pki.leaf('server', SERVER_ID, ca);
  const edgeCerts = pki.leaf('edge', EDGE_ID, ca);
  app = await startUpstream('server-app');
  forger = await startForger();

  server = await startSidecarProcess(nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), [
    '--cert-source',
    `file:${serverCerts}`,
    '--app-ports',
    String(app.port),
  ]);
  const toServer = staticCluster('server:8080', [server.ports.inbound], { tls: mtls([SERVER_ID]) });
  const forgerPort = (forger.address() as { port: number }).port;
  client = await startSidecarProcess(
    nodeBody({
      services: [
        { name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] },
        { name: 'plain.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('plain/r', { 'plain:8080': 1 })] }] },
      ],
      clusters: [toServer, staticCluster('plain:8080', [forgerPort])],
    }),
    ['--cert-source', `file:${clientCerts}`],
  );

  [edgePort] = await freePorts(1);
  const edgeBody: ConfigBody = {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: EDGE_ID },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [{ port: edgePort, protocol: 'http' }],
      routes: [
        {
          name: 'edge/shop',
          priority: 0,
          protocol: 'http',
          match: { hostname: { exact: 'shop.example.com' }, path: { prefix: '/shop/' } },
          target: { virtualService: 'server.demo.local' },
          rewrite: { prefix: '/' },
        },
      ],
      policy: {},
    },
    outbound: { services: [{ name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] }] },
    clusters: [toServer],
  };
  edge = await startSidecarProcess(edgeBody, ['--cert-source', `file:${edgeCerts}`]);
}, 60_000);

afterAll(async () => {
  await Promise.all([server?.stop(), client?.stop(), edge?.stop()]);
  await app?.close();
  await new Promise((r) => forger?.close(r));
  await agent.close();
  pki?.remove();
});

/** TLS options of a peer sidecar holding the client node's certificate. */
const asPeer = () => ({ ca: pki.read(ca, 'ca.pem'), key: pki.read(clientCerts, 'key.pem'), cert: pki.read(clientCerts, 'cert.pem'), checkServerIdentity: () => undefined });

/** What the app behind the server sidecar saw for the last request. */
const lastSeen = () => app.seen[app.seen.length - 1];

describe('absolute-form targets on the inbound listener (over mTLS)', () => {
  test.each([
    ['http://evil.example/x/../admin', '/admin'],
    ['http://evil.example/%2e%2e/admin?q=1', '/admin?q=1'],
    ['http://evil.example/plain', '/plain'],
    ['http://evil.example', '/'],
    ['HTTP://evil.example?q', '/?q'],
  ])('%s reaches the app as origin-form %s with the authority as its one Host', async (target, path) => {
    const before = app.seen.length;
    const reply = await rawExchange(server.ports.inbound, `GET ${target} HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n`, { tls: asPeer() });
    expect(reply.status).toBe(200);
    expect(app.seen.length).toBe(before + 1);
    expect(lastSeen().url).toBe(path);
    expect(lastSeen().headers.host).toBe('evil.example');
    expect(lastSeen().rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);
  });

  test.each([
    ['http://user@evil.example/', 'WEFT_ERR_BAD_TARGET'],
    ['ftp://evil.example/', 'WEFT_ERR_BAD_TARGET'],
    // Authority-form outside CONNECT is no request-target at all: the parser refuses it, as llhttp does.
    ['evil.example:80', 'WEFT_ERR_BAD_REQUEST'],
    ['http://evil.example/a#frag', 'WEFT_ERR_BAD_TARGET'],
    ['http:///x', 'WEFT_ERR_BAD_TARGET'],
  ])('%s is refused: 400 %s, nothing reaches the app', async (target, code) => {
    const before = app.seen.length;
    const reply = await rawExchange(server.ports.inbound, `GET ${target} HTTP/1.1\r\nHost: server\r\n\r\n`, { tls: asPeer() });
    expect(reply.status).toBe(400);
    expect(reply.headers['x-weft-error']).toBe(code);
    expect(app.seen.length).toBe(before);
  });
});

describe('absolute-form targets on the gateway', () => {
  test('the authority replaces Host for route matching, and the path is normalized after it becomes origin-form', async () => {
    const reply = await rawExchange(edgePort, 'GET http://shop.example.com/shop/x/../cart?id=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(200);
    expect(lastSeen().url).toBe('/cart?id=1');
    expect(lastSeen().headers.host).toBe('server.demo.local');
  });

  test('dot segments cannot climb out of the matched prefix', async () => {
    const reply = await rawExchange(edgePort, 'GET http://shop.example.com/shop/%2e%2e/admin HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(404);
    expect(reply.headers['x-weft-error']).toBe('WEFT_ERR_GATEWAY_NO_ROUTE');
  });
});

describe('x-weft-* fields only from sidecars of this mesh over mTLS', () => {
  test('an upstream that is not a sidecar cannot forge x-weft-* headers or trailers', async () => {
    const reply = await rawExchange(client.ports.egress, 'GET / HTTP/1.1\r\nHost: plain.demo.local:8080\r\nTE: trailers\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('hello');
    // The trailer section arrived, without the forged field.
    expect(reply.text.toLowerCase()).toContain('x-checksum: 42');
    expect(reply.text.toLowerCase()).not.toContain('x-weft-');
  });

  test('nor on a 101 that opens a tunnel', async () => {
    const reply = await rawExchange(client.ports.egress, 'GET /ws HTTP/1.1\r\nHost: plain.demo.local:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', {
      until: (t) => t.includes('\r\n\r\n'),
    });
    expect(reply.status).toBe(101);
    expect(reply.text.toLowerCase()).not.toContain('x-weft-');
  });

  test('an app behind a sidecar cannot forge them either', async () => {
    // The app's answer passes two sidecars: the server's inbound strips, the client believes its mTLS peer.
    const reply = await rawExchange(client.ports.egress, 'GET /x HTTP/1.1\r\nHost: server.demo.local:8080\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(200);
    expect(reply.text.toLowerCase()).not.toContain('x-weft-');
  });

  test('a request cannot carry them to the app: the server sidecar strips what a client sends', async () => {
    const reply = await rawExchange(client.ports.egress, 'GET /x HTTP/1.1\r\nHost: server.demo.local:8080\r\nX-Weft-Target-Port: 1\r\nX-Weft-Anything: y\r\nConnection: close\r\n\r\n');
    expect(reply.status).toBe(200);
    expect(Object.keys(lastSeen().headers).filter((h) => h.startsWith('x-weft-'))).toEqual([]);
  });
});
