/**
 * The admin's `/connections`: the open connections of the listeners peers reach, each with the
 * peer's address and, over mutual TLS, the SPIFFE id its verified certificate proves.
 */
import { connect, type Socket } from 'node:net';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';

const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';
const ORDERS_ID = 'spiffe://weft.test/ns/demo/sa/orders';

interface Listed {
  listener: string;
  address: string | null;
  port: number | null;
  encrypted: boolean;
  spiffeId: string | null;
}

let pki: TestPki;
let app: Upstream;
let orders: Running;
let client: Running;

beforeAll(async () => {
  pki = new TestPki();
  const ca = pki.ca('mesh-ca');
  app = await startUpstream('orders');
  const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [CLIENT_ID] } };
  orders = await startWith(nodeBody({ name: 'orders', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), {
    appPorts: [String(app.port)],
    certSource: `file:${pki.leaf('orders', ORDERS_ID, ca)}`,
  });
  const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [ORDERS_ID] };
  client = await startWith(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [orders.handle.ports.inbound!], { tls: mtls })],
    }),
    { certSource: `file:${pki.leaf('client', CLIENT_ID, ca)}` },
  );
}, 30_000);

afterAll(async () => {
  await Promise.all([client?.close(), orders?.close()]);
  await Promise.all([app.close(), agent.close()]);
  pki.remove();
});

const connections = async (admin: number): Promise<Listed[]> => ((await get(admin, '/connections')).json() as unknown as { connections: Listed[] }).connections;

test("a caller's pooled mTLS connection shows the caller's SPIFFE id on the callee", async () => {
  expect((await get(client.handle.ports.egress!, '/', { host: 'orders.demo.local' })).status).toBe(200);
  // The client's pool keeps the connection open after the response.
  const listed = await connections(orders.handle.ports.admin);
  expect(listed).toContainEqual({ listener: 'inbound', address: '127.0.0.1', port: expect.any(Number), encrypted: true, spiffeId: CLIENT_ID });
});

test('a plaintext connection is listed without an identity; egress connections are not listed', async () => {
  const plain: Socket = connect(client.handle.ports.inbound!, '127.0.0.1');
  await new Promise((r) => plain.once('connect', r));
  try {
    let listed: Listed[] = [];
    await eventually(async () => {
      listed = await connections(client.handle.ports.admin);
      return listed.some((c) => c.port === plain.localPort);
    }, 'the plaintext connection to be listed');
    expect(listed.find((c) => c.port === plain.localPort)).toEqual({ listener: 'inbound', address: '127.0.0.1', port: plain.localPort, encrypted: false, spiffeId: null });
    // The request above went through the client's egress listener on a kept-alive connection.
    expect(listed.every((c) => c.listener !== 'egress')).toBe(true);
  } finally {
    plain.destroy();
  }
});

test('POST /connections is refused', async () => {
  expect((await get(orders.handle.ports.admin, '/connections', {}, 'POST')).status).toBe(405);
});
