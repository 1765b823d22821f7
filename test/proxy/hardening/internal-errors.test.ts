/**
 * A bug reached by one connection's bytes ends that connection alone: it is counted, logged once
 * per interval, and every other connection keeps being served. A route layer that throws stands
 * in for the bug (real sockets, a sidecar started in this process to inject it).
 */
import type { RouteLayerFactory } from '../../../proxy/exchange/stack';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';
import { rawExchange } from './raw-http';

let app: Upstream;
let sidecar: Running;
const logged: { level: string; event: string; fields?: Record<string, unknown> }[] = [];

const buggy: RouteLayerFactory = () => (next) => (req, handler) => {
  if (req.headers['x-boom']) throw new TypeError('cannot read properties of undefined');
  next(req, handler);
};

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [app.port])],
    }),
    {},
    { routeLayers: [buggy], logger: { log: (level, event, fields) => logged.push({ level, event, fields }) } },
  );
});

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('the throwing connection is closed, counted and logged once; a kept-alive neighbour is served throughout', async () => {
  const port = sidecar.handle.ports.egress!;
  expect((await get(port, '/warm', { host: 'orders.demo.local' })).status).toBe(200);
  for (let i = 0; i < 5; i++) {
    const reply = await rawExchange(port, 'GET /boom HTTP/1.1\r\nHost: orders.demo.local\r\nX-Boom: 1\r\n\r\n');
    expect(reply.closed).toBe(true);
    expect(reply.status).toBe(0);
  }
  expect(sidecar.handle.stats.internalErrors).toBe(5);
  const lines = logged.filter((l) => l.event === 'connection_internal_error');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 'error', fields: { code: 'WEFT_ERR_INTERNAL', listener: 'egress', message: 'cannot read properties of undefined' } });
  // The agent's kept-alive connection from the first request still works.
  expect((await get(port, '/after', { host: 'orders.demo.local' })).status).toBe(200);
  expect(app.seen.some((r) => r.url === '/boom')).toBe(false);
});
