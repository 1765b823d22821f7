/**
 * TCP between sidecars over mutual TLS, retries on connection errors, and the idle timeout.
 * Sidecar A runs in transparent mode and is reached directly on its egress port (what iptables
 * would do): TLS from the app is routed by SNI; CONNECT works as in explicit mode.
 */
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { eventually, nodeBody, staticCluster, startWith, tcpRoute, TIMEOUT, type Running } from '../harness';
import { TestPki } from '../tls/test-pki';

const A_ID = 'spiffe://weft.test/ns/demo/sa/a';
const B_ID = 'spiffe://weft.test/ns/demo/sa/b';
const pki = new TestPki();
const servers: Server[] = [];
const running: Running[] = [];
let meshCa: string;
let appCa: string;
let a: Running;
let bEcho: Running;
let bTls: Running;
let deadPort: number;

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function closed(socket: Socket): Promise<void> {
  return new Promise((r) => (socket.destroyed ? r() : socket.once('close', () => r())));
}

function firstData(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString()));
    socket.once('error', reject);
  });
}

/** An app-level TLS client to A's egress port, naming `servername`. */
async function appTls(servername: string): Promise<TLSSocket> {
  const s = tlsConnect({ host: '127.0.0.1', port: a.handle.ports.egress!, servername, ca: pki.read(appCa, 'ca.pem'), checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  return s;
}

const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [A_ID] } };
const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [B_ID] };

beforeAll(async () => {
  meshCa = pki.ca('mesh-ca');
  appCa = pki.ca('app-ca');
  const aDir = pki.leaf('a', A_ID, meshCa);
  const bDir = pki.leaf('b', B_ID, meshCa);
  const appDir = pki.leaf('app', 'spiffe://apps/tls-echo', appCa);
  const echoPort = await listen(createNetServer((s) => s.pipe(s)));
  const tlsEchoPort = await listen(createTlsServer({ key: pki.read(appDir, 'key.pem'), cert: pki.read(appDir, 'cert.pem') }, (s) => s.pipe(s)));
  // A port nothing listens on: connections to it are refused.
  const probe = createNetServer();
  deadPort = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as AddressInfo).port)));
  await new Promise((r) => probe.close(r));

  bEcho = await startWith(nodeBody({ name: 'b', inbound: [{ port: echoPort, protocol: 'tcp', tls: strict, timeout: TIMEOUT }] }), { certSource: `file:${bDir}` });
  bTls = await startWith(nodeBody({ name: 'b', inbound: [{ port: tlsEchoPort, protocol: 'tcp', tls: strict, timeout: TIMEOUT }] }), { certSource: `file:${bDir}` });
  running.push(bEcho, bTls);
  const retrying = { maxRetries: 2, perTryTimeoutMs: 0, tcpRetryEvents: ['connection-error' as const] };
  const tcpSvc = (name: string, port: number, route: ReturnType<typeof tcpRoute>) => ({ name, listeners: [{ port, protocol: 'tcp' as const, routes: [route] }] });
  a = await startWith(
    nodeBody({
      name: 'a',
      services: [
        tcpSvc('echo.demo', 7000, tcpRoute('echo/r', 'echo:7000')),
        tcpSvc('secure.demo', 443, tcpRoute('secure/r', 'secure:443')),
        tcpSvc('flaky.demo', 443, { ...tcpRoute('flaky/r', 'flaky:443'), retryPolicy: retrying } as ReturnType<typeof tcpRoute>),
        tcpSvc('sleepy.demo', 443, { ...tcpRoute('sleepy/r', 'sleepy:443'), timeout: { perRequestMs: 0, idleMs: 200 } } as ReturnType<typeof tcpRoute>),
      ],
      clusters: [
        staticCluster('echo:7000', [bEcho.handle.ports.inbound!], { protocol: 'tcp', port: 7000, tls: mtls }),
        staticCluster('secure:443', [bTls.handle.ports.inbound!], { protocol: 'tcp', port: 443, tls: mtls }),
        staticCluster('flaky:443', [deadPort, bTls.handle.ports.inbound!], { protocol: 'tcp', port: 443, tls: mtls }),
        staticCluster('sleepy:443', [bTls.handle.ports.inbound!], { protocol: 'tcp', port: 443, tls: mtls }),
      ],
    }),
    { transparent: true, certSource: `file:${aDir}` },
  );
  running.push(a);
}, 30_000);

afterAll(async () => {
  for (const r of running) await r.close();
  for (const s of servers) s.close();
  pki.remove();
});

test('CONNECT to a TCP service rides mTLS to the peer, whose STRICT inbound port hands the plaintext to its TCP listener', async () => {
  const client = netConnect({ host: '127.0.0.1', port: a.handle.ports.egress! });
  client.write('CONNECT echo.demo:7000 HTTP/1.1\r\nHost: echo.demo:7000\r\n\r\n');
  expect(await firstData(client)).toMatch(/^HTTP\/1\.1 200 /);
  client.write('through-mtls');
  expect(await firstData(client)).toBe('through-mtls');
  expect(bEcho.handle.tcpStats.active).toBe(1);
  client.destroy();
  await eventually(() => bEcho.handle.tcpStats.active === 0, 'B closes');
});

test('a STRICT inbound port does not take plaintext TCP', async () => {
  const before = bEcho.handle.tcpStats.connections;
  const client = netConnect({ host: '127.0.0.1', port: bEcho.handle.ports.inbound! });
  client.on('error', () => undefined);
  client.write('plaintext-bytes');
  await closed(client);
  expect(bEcho.handle.tcpStats.connections).toBe(before);
});

test('app TLS named by SNI is carried inside the sidecars\' mTLS to the peer app, untouched', async () => {
  const s = await appTls('secure.demo');
  expect(s.getPeerCertificate().subject.CN).toBe('app');
  s.write('tls-in-mtls');
  expect(await firstData(s)).toBe('tls-in-mtls');
  const cluster = a.handle.store.current!.clusters.get('secure:443')!;
  expect(cluster.stats.active).toBe(1);
  s.destroy();
  await eventually(() => cluster.stats.active === 0, 'the cluster connection to end');
  expect(cluster.stats.requests).toBe(1);
});

test('connection errors are retried on another endpoint when the route says so', async () => {
  const cluster = a.handle.store.current!.clusters.get('flaky:443')!;
  for (let i = 0; i < 4; i++) {
    const s = await appTls('flaky.demo');
    s.write(`try-${i}`);
    expect(await firstData(s)).toBe(`try-${i}`);
    s.destroy();
  }
  // Round robin sent some first attempts to the dead endpoint; each was retried.
  expect(cluster.stats.connectFailures).toBeGreaterThan(0);
  expect(a.handle.tcpStats.refused.WEFT_ERR_UPSTREAM_CONNECT).toBeUndefined();
});

test('an idle connection is closed after the route\'s idle timeout', async () => {
  const s = await appTls('sleepy.demo');
  s.write('once');
  expect(await firstData(s)).toBe('once');
  // Nothing more is sent: the sidecar closes the connection on its own.
  await closed(s);
  const cluster = a.handle.store.current!.clusters.get('sleepy:443')!;
  await eventually(() => cluster.stats.active === 0, 'the cluster connection to end');
});
