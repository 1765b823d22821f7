/**
 * Authorization compiled with the config: a reload swaps the policies for the next request, a
 * denied gRPC request gets PERMISSION_DENIED in gRPC's form, and a gateway enforces its own
 * policies before routing. Sidecars on real sockets (plaintext: policies on addresses, hosts and
 * paths need no identity).
 */
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;

const withPolicy = (authorization: ConfigBody['inbound']['policy']['authorization']): ConfigBody => {
  const body = nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT }] });
  return { ...body, inbound: { ...body.inbound, policy: { authorization } } };
};
const DENY_SECRET = withPolicy([{ name: 'no-secret', action: 'DENY', rules: [{ to: [{ paths: ['/secret*'] }] }] }]);
const ONLY_OFFICE = withPolicy([{ name: 'office', rules: [{ from: [{ ipBlocks: ['192.0.2.0/24'] }] }] }]);

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(DENY_SECRET, { appPorts: [String(app.port)] });
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('a denied gRPC request is answered 200 with grpc-status 7 and the code', async () => {
  const res = await get(sidecar.handle.ports.inbound!, '/secret.Service/Get', { host: 'orders', 'content-type': 'application/grpc' }, 'POST', '');
  expect(res.status).toBe(200);
  expect(res.headers['grpc-status']).toBe('7');
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_RBAC_DENIED');
  expect(app.seen.some((r) => r.url.startsWith('/secret'))).toBe(false);
});

test('a reload swaps the policies: the next request is judged by the new ones', async () => {
  const inbound = sidecar.handle.ports.inbound!;
  expect((await get(inbound, '/open', { host: 'orders' })).status).toBe(200);
  expect((await get(inbound, '/secret', { host: 'orders' })).status).toBe(403);
  const before = sidecar.handle.store.current!.version;
  sidecar.config.write(ONLY_OFFICE);
  await eventually(() => sidecar.handle.store.current!.version !== before, 'the new config to be applied');
  // 127.0.0.1 is not in the office block: everything is refused now, /secret included.
  const open = await get(inbound, '/open', { host: 'orders' });
  expect([open.status, open.headers['x-weft-error']]).toEqual([403, 'WEFT_ERR_RBAC_DENIED']);
  expect(app.seen.filter((r) => r.url === '/open')).toHaveLength(1);
});

test('the gateway enforces gateway.policy.authorization before routing: hosts, methods, ports', async () => {
  const body: ConfigBody = {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [{ port: 8443, protocol: 'http' }],
      routes: [{ name: 'edge/app', priority: 0, protocol: 'http', match: { path: { prefix: '/' } }, target: { virtualService: 'orders.demo.local' }, rewrite: {} }],
      policy: { authorization: [{ name: 'public', rules: [{ to: [{ hosts: ['*.example.com'], methods: ['GET'], ports: [8443] }] }] }] },
    },
    outbound: { services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('app/r', { 'app:8080': 1 })] }] }] },
    clusters: [staticCluster('app:8080', [app.port])],
  };
  const gw = await startWith(body, {}, { bindGatewayPort: () => 0 });
  try {
    const port = gw.handle.ports.gateway[8443];
    expect((await get(port, '/gw-ok', { host: 'WWW.Example.com:8443' })).status).toBe(200);
    const wrongHost = await get(port, '/gw-host', { host: 'internal.local' });
    const wrongMethod = await get(port, '/gw-method', { host: 'www.example.com' }, 'DELETE');
    expect([wrongHost.status, wrongHost.headers['x-weft-error'], wrongMethod.status]).toEqual([403, 'WEFT_ERR_RBAC_DENIED', 403]);
    expect(app.seen.map((r) => r.url).filter((u) => u.startsWith('/gw-'))).toEqual(['/gw-ok']);
  } finally {
    await gw.close();
  }
});
