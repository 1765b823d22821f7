/**
 * Authorization through real sidecars: an order-service sidecar (STRICT mTLS) holding the seed's
 * `order-service-policy` plus a DENY on an admin path, three caller sidecars holding the
 * identities it names, each calling through its egress over a real mTLS handshake. What reaches
 * the app is counted there. A TCP listener under an ALLOW policy closes connections of callers it
 * does not name before anything reaches its app.
 */
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';
import type { CompletionRecord } from '../../../proxy/exchange/record';

const id = (sa: string) => `spiffe://weft.test/ns/demo/sa/${sa}`;
const CALLERS = ['api-gateway', 'payment-service', 'inventory-service'] as const;
type Caller = (typeof CALLERS)[number];

let pki: TestPki;
let meshCa: string;
const dirs: Record<string, string> = {};
let app: Upstream;
let orders: Running;
let tcpNode: Running;
let tcpApp: Server;
let tcpAccepted = 0;
const callers = {} as Record<Caller, Running>;
const records: CompletionRecord[] = [];

const strict = (sans: string[]) => ({ mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: sans } });
const mtls = (sans: string[]) => ({ mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: sans });

/** The seed's order-service-policy, in Weft's trust domain, and a DENY on the admin paths. */
const POLICY: ConfigBody['inbound']['policy'] = {
  authorization: [
    {
      name: 'order-service-policy',
      rules: [
        { from: [{ principals: ['weft.test/ns/demo/sa/api-gateway', 'weft.test/ns/demo/sa/payment-service'] }], to: [{ methods: ['GET', 'POST'], paths: ['/api/v1/*'] }] },
        { from: [{ principals: ['weft.test/ns/demo/sa/inventory-service'] }], to: [{ methods: ['GET'], paths: ['/api/v1/inventory/*'] }] },
      ],
    },
    { name: 'no-admin', action: 'DENY', rules: [{ to: [{ paths: ['/api/v1/admin', '/api/v1/admin/*'] }] }] },
  ],
};

beforeAll(async () => {
  pki = new TestPki();
  meshCa = pki.ca('mesh-ca');
  for (const name of ['order-service', 'tcp-service', ...CALLERS]) dirs[name] = pki.leaf(name, id(name), meshCa);
  app = await startUpstream('order-service');
  tcpApp = createServer((s) => {
    tcpAccepted++;
    s.on('data', (d) => s.end(`echo ${d}`));
  });
  await new Promise<void>((r) => tcpApp.listen(0, '127.0.0.1', r));

  const body = nodeBody({ name: 'order-service', inbound: [{ port: 8080, protocol: 'http', tls: strict(CALLERS.map(id)), timeout: TIMEOUT }] });
  orders = await startWith({ ...body, inbound: { ...body.inbound, policy: POLICY } }, { appPorts: [String(app.port)], certSource: `file:${dirs['order-service']}` }, { onRecord: (r) => records.push(r) });

  const tcpBody = nodeBody({ name: 'tcp-service', inbound: [{ port: 5432, protocol: 'tcp', tls: strict(CALLERS.map(id)), timeout: TIMEOUT }] });
  const tcpPolicy = { authorization: [{ name: 'db', rules: [{ from: [{ principals: ['*/sa/inventory-service'] }], to: [{ ports: [5432] }] }] }] };
  tcpNode = await startWith({ ...tcpBody, inbound: { ...tcpBody.inbound, policy: tcpPolicy } }, {
    appPorts: [String((tcpApp.address() as { port: number }).port)],
    certSource: `file:${dirs['tcp-service']}`,
  });

  for (const name of CALLERS) {
    callers[name] = await startWith(
      nodeBody({
        name,
        services: [{ name: 'order-service.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
        clusters: [staticCluster('orders:8080', [orders.handle.ports.inbound!], { tls: mtls([id('order-service')]) })],
      }),
      { certSource: `file:${dirs[name]}` },
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([orders?.close(), tcpNode?.close(), ...CALLERS.map((c) => callers[c]?.close())]);
  await Promise.all([app.close(), new Promise((r) => tcpApp.close(r)), agent.close()]);
  pki.remove();
});

const call = (caller: Caller, path: string, method = 'GET') => get(callers[caller].handle.ports.egress!, path, { host: 'order-service.demo.local' }, method, method === 'POST' ? '{}' : undefined);
const reached = (path: string) => app.seen.filter((r) => r.url === path).length;

test.each<[Caller, string, string, boolean]>([
  ['api-gateway', 'GET', '/api/v1/orders/1', true],
  ['api-gateway', 'POST', '/api/v1/orders', true],
  ['api-gateway', 'DELETE', '/api/v1/orders/2', false],
  ['api-gateway', 'GET', '/api/v2/orders', false],
  ['payment-service', 'POST', '/api/v1/payments/3', true],
  ['payment-service', 'GET', '/api/v1/inventory/4', true],
  ['inventory-service', 'GET', '/api/v1/inventory/5', true],
  ['inventory-service', 'POST', '/api/v1/inventory/6', false],
  ['inventory-service', 'GET', '/api/v1/orders/7', false],
])('order-service-policy: %s %s %s allowed=%s', async (caller, method, path, ok) => {
  const res = await call(caller, path, method);
  if (ok) {
    expect(res.status).toBe(200);
    expect(reached(path)).toBe(1);
  } else {
    expect(res.status).toBe(403);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_RBAC_DENIED');
    expect(reached(path)).toBe(0);
  }
});

test('a denied request is recorded with flag RBAC and its code on the order-service sidecar', async () => {
  const res = await call('inventory-service', '/api/v1/orders/rbac-flag', 'GET');
  expect(res.status).toBe(403);
  const record = records.find((r) => r.path === '/api/v1/orders/rbac-flag');
  expect(record).toMatchObject({ flags: 'RBAC', errorCode: 'WEFT_ERR_RBAC_DENIED', listener: 'inbound', peerPrincipal: id('inventory-service') });
});

test.each(['/api/v1/admin', '/api/v1/admin/users', '/api/v1/admin%2Fusers', '/api/v1/admin%2fusers', '/api/v1//admin', '/api/v1/%61dmin', '/api/v1/admin;x=1', '/api/v1/admin?x=1', '/api/v1/orders/%2e%2e/admin', '/api/v1/x/..%2F..%2Fv1/admin', '/api/v1/admin%5Cusers'])(
  'no spelling of a denied path passes the DENY: %s',
  async (path) => {
    const before = app.seen.length;
    const res = await call('api-gateway', path);
    expect(res.status).toBe(403);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_RBAC_DENIED');
    expect(app.seen.length).toBe(before);
  },
);

test('paths are case-sensitive (Istio): /api/v1/ADMIN is not the denied path', async () => {
  const res = await call('api-gateway', '/api/v1/ADMIN');
  expect(res.status).toBe(200);
});

/** Opens a TLS connection with `caller`'s certificate, writes a line, resolves with what came back. */
function tcpExchange(caller: Caller): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: tcpNode.handle.ports.inbound!,
      ca: pki.read(meshCa, 'ca.pem'),
      key: pki.read(dirs[caller], 'key.pem'),
      cert: pki.read(dirs[caller], 'cert.pem'),
      checkServerIdentity: () => undefined,
    });
    let text = '';
    socket.on('secureConnect', () => socket.write('ping'));
    socket.on('data', (d) => (text += d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

test('TCP listener: the named caller reaches the app; another is closed before anything reaches it', async () => {
  expect(await tcpExchange('inventory-service')).toBe('echo ping');
  const accepted = tcpAccepted;
  expect(await tcpExchange('api-gateway')).toBe('');
  expect(tcpAccepted).toBe(accepted);
});
