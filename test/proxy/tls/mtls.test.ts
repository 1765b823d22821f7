import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';
import { TestPki } from './test-pki';

const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';
const ORDERS_ID = 'spiffe://weft.test/ns/demo/sa/orders';

let pki: TestPki;
let meshCa: string;
let rogueCa: string;
let clientDir: string;
let ordersDir: string;
let rogueDir: string;
let web: Upstream;
let admin: Upstream;
let orders: Running;
let permissive: Running;
let client: Running;

/** The `tls_handshake_failed` log lines of a sidecar. */
type Logged = { event: string; fields: Record<string, unknown> };
const logsOf = (into: Logged[]) => ({ logger: { log: (_level: string, event: string, fields: Record<string, unknown> = {}) => void into.push({ event, fields }) } });
const ordersLogs: Logged[] = [];
const clientLogs: Logged[] = [];
const handshakeFailures = (logs: Logged[]) => logs.filter((l) => l.event === 'tls_handshake_failed').map((l) => l.fields);

const mtls = (sans: string[]) => ({ mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: sans });
const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [CLIENT_ID] } };

beforeAll(async () => {
  pki = new TestPki();
  meshCa = pki.ca('mesh-ca');
  rogueCa = pki.ca('rogue-ca');
  clientDir = pki.leaf('client', CLIENT_ID, meshCa);
  ordersDir = pki.leaf('orders', ORDERS_ID, meshCa);
  rogueDir = pki.leaf('rogue', CLIENT_ID, rogueCa, meshCa);
  [web, admin] = await Promise.all([startUpstream('orders-web'), startUpstream('orders-admin')]);

  // The server side: two app ports behind one STRICT inbound port.
  orders = await startWith(
    nodeBody({
      name: 'orders',
      inbound: [
        { port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT },
        { port: 9090, protocol: 'http', tls: strict, timeout: TIMEOUT },
      ],
    }),
    { appPorts: [String(web.port), String(admin.port)], certSource: `file:${ordersDir}` },
    logsOf(ordersLogs),
  );
  permissive = await startWith(
    nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', tls: { ...strict, mode: 'PERMISSIVE' }, timeout: TIMEOUT }] }),
    { appPorts: [String(web.port)], certSource: `file:${ordersDir}` },
  );
  const inbound = orders.handle.ports.inbound!;
  const svc = (name: string, port: number, cluster: string) => ({ name, listeners: [{ port, protocol: 'http' as const, routes: [httpRoute(`${name}/r`, { [cluster]: 1 })] }] });
  client = await startWith(
    nodeBody({
      services: [
        svc('orders.demo.local', 8080, 'orders:8080'),
        svc('orders-admin.demo.local', 9090, 'orders:9090'),
        svc('impostor.demo.local', 8080, 'impostor:8080'),
        svc('orders-permissive.demo.local', 8080, 'permissive:8080'),
      ],
      clusters: [
        staticCluster('orders:8080', [inbound], { tls: mtls([ORDERS_ID]) }),
        staticCluster('orders:9090', [inbound], { port: 9090, tls: mtls([ORDERS_ID]) }),
        // Expects another identity than the one the endpoint proves.
        staticCluster('impostor:8080', [inbound], { tls: mtls(['spiffe://weft.test/ns/demo/sa/payments']) }),
        staticCluster('permissive:8080', [permissive.handle.ports.inbound!], { tls: mtls([ORDERS_ID]) }),
      ],
    }),
    { certSource: `file:${clientDir}` },
    logsOf(clientLogs),
  );
}, 30_000);

afterAll(async () => {
  await Promise.all([client?.close(), orders?.close(), permissive?.close()]);
  await Promise.all([web.close(), admin.close(), agent.close()]);
  pki.remove();
});

test('two sidecars talk mutual TLS: app -> egress -> mTLS -> inbound -> app', async () => {
  const res = await get(client.handle.ports.egress!, '/orders/7', { host: 'orders.demo.local' });
  expect(res.status).toBe(200);
  const seen = res.json();
  expect(seen).toMatchObject({ name: 'orders-web', url: '/orders/7' });
  expect(seen.headers['x-weft-target-port']).toBeUndefined();
  expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.1');
});

test("the app learns its caller from x-forwarded-client-cert; a forged one from the caller's app never arrives", async () => {
  const res = await get(client.handle.ports.egress!, '/orders/xfcc', { host: 'orders.demo.local', 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://weft.test/ns/demo/sa/admin' });
  expect(res.status).toBe(200);
  const hash = new X509Certificate(pki.read(clientDir, 'cert.pem')).fingerprint256.replaceAll(':', '').toLowerCase();
  expect(res.json().headers['x-forwarded-client-cert']).toBe(`By=${ORDERS_ID};Hash=${hash};URI=${CLIENT_ID}`);
});

test('a plaintext caller of a PERMISSIVE port gets no x-forwarded-client-cert, even a forged one', async () => {
  const res = await get(permissive.handle.ports.inbound!, '/xfcc', { host: 'orders', 'x-forwarded-client-cert': `By=${ORDERS_ID};URI=${CLIENT_ID}` });
  expect(res.status).toBe(200);
  expect(res.json().headers['x-forwarded-client-cert']).toBeUndefined();
});

test('x-weft-target-port from an mTLS peer picks the app port', async () => {
  const res = await get(client.handle.ports.egress!, '/admin', { host: 'orders-admin.demo.local' });
  expect(res.status).toBe(200);
  expect(res.json().name).toBe('orders-admin');
});

test('a peer proving another identity than the cluster expects is refused: WEFT_ERR_UPSTREAM_TLS', async () => {
  const res = await get(client.handle.ports.egress!, '/', { host: 'impostor.demo.local' });
  expect(res.status).toBe(503);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TLS');
  // The caller's side says why, once a minute per cluster and reason.
  expect(handshakeFailures(clientLogs)).toContainEqual(
    expect.objectContaining({ direction: 'outbound', cluster: 'impostor:8080', endpoint: `127.0.0.1:${orders.handle.ports.inbound}`, reason: expect.stringMatching(/spiffe|altnames|SAN/i) }),
  );
});

/** Sends one request over TLS with the given client certificate; resolves with what came back. */
function tlsGet(port: number, certDir: string | undefined): Promise<{ text: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: pki.read(meshCa, 'ca.pem'),
      key: certDir ? pki.read(certDir, 'key.pem') : undefined,
      cert: certDir ? pki.read(certDir, 'cert.pem') : undefined,
      checkServerIdentity: () => undefined,
    });
    let text = '';
    let error: string | undefined;
    socket.on('secureConnect', () => socket.write('GET /direct-tls HTTP/1.1\r\nHost: orders\r\nX-Weft-Target-Port: 9090\r\n\r\n'));
    socket.on('data', (d) => {
      text += d;
      if (text.includes('\r\n\r\n')) socket.end();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ text, error }));
  });
}

test('a client certificate from another CA is refused', async () => {
  const before = web.seen.length + admin.seen.length;
  const res = await tlsGet(orders.handle.ports.inbound!, rogueDir);
  // The handshake is torn down (TLS 1.3 finishes it client-side first): no HTTP byte comes back.
  expect(res.text).toBe('');
  expect(web.seen.length + admin.seen.length).toBe(before);
  await eventually(() => handshakeFailures(ordersLogs).some((f) => f.listener === 'inbound' && f.peer === '127.0.0.1'), 'a tls_handshake_failed line on the callee');
});

test('a mesh client certificate directly is accepted, and its target port is trusted', async () => {
  const res = await tlsGet(orders.handle.ports.inbound!, clientDir);
  expect(res.text).toMatch(/^HTTP\/1.1 200/);
  expect(res.text).toContain('x-upstream: orders-admin');
});

test('plaintext to a STRICT port gets no HTTP answer', async () => {
  const text = await new Promise<string>((resolve) => {
    const s = netConnect(orders.handle.ports.inbound!, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: orders\r\n\r\n'));
    let t = '';
    s.on('data', (d) => (t += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(t));
  });
  expect(text).not.toContain('HTTP/1.1 200');
  await eventually(() => handshakeFailures(ordersLogs).some((f) => /WRONG_VERSION|HTTP_REQUEST|wrong version|http request/i.test(String(f.reason))), 'a tls_handshake_failed line for plaintext');
});

test('PERMISSIVE accepts mTLS and plaintext on one port; only mTLS peers are trusted', async () => {
  const viaMesh = await get(client.handle.ports.egress!, '/p', { host: 'orders-permissive.demo.local' });
  expect(viaMesh.status).toBe(200);
  expect(viaMesh.json().headers['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.1');
  const plain = await get(permissive.handle.ports.inbound!, '/plain', { host: 'orders', 'x-forwarded-for': '6.6.6.6' });
  expect(plain.status).toBe(200);
  expect(plain.json().headers['x-forwarded-for']).toBe('127.0.0.1');
});

test('a rotated certificate is used for new connections without a restart', async () => {
  const egress = client.handle.ports.egress!;
  const swap = (from: string): void => {
    for (const f of ['key.pem', 'cert.pem']) {
      writeFileSync(join(clientDir, `.${f}`), pki.read(from, f));
      renameSync(join(clientDir, `.${f}`), join(clientDir, f));
    }
  };
  const good = { key: pki.read(clientDir, 'key.pem'), cert: pki.read(clientDir, 'cert.pem') };
  // A certificate the server's trust bundle does not know: the server must start refusing us.
  swap(rogueDir);
  await eventually(async () => (await get(egress, '/', { host: 'orders.demo.local' })).status !== 200, 'the rotated (untrusted) certificate to be used');
  writeFileSync(join(clientDir, 'key.pem'), good.key);
  writeFileSync(join(clientDir, 'cert.pem'), good.cert);
  await eventually(async () => (await get(egress, '/', { host: 'orders.demo.local' })).status === 200, 'the good certificate to be used again');
});

test("a sidecar does not start with another node's certificate: the config's SPIFFE id and the certificate's must agree", async () => {
  // The client's certificate under the orders node's config: it would present itself as the client.
  await expect(
    startWith(nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), { appPorts: [String(web.port)], certSource: `file:${clientDir}` }),
  ).rejects.toMatchObject({
    code: 'WEFT_ERR_CONFIG_MISMATCH',
    message: expect.stringContaining(`node.spiffeId is '${ORDERS_ID}', but the mesh certificate (WEFT_CERT_SOURCE) names '${CLIENT_ID}'`),
  });
});
