import type { IncomingMessage } from 'node:http';
import type { FilterInfo, RequestFilter } from '../../../proxy/http/pipeline';
import { agent, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
const calls: string[] = [];

// A synchronous refusal and an asynchronous pass: the two shapes policy filters take.
const deny: RequestFilter = {
  name: 'deny-header',
  onRequest: (req: IncomingMessage, info: FilterInfo) => {
    calls.push(`${info.listener}:${req.url}`);
    return req.headers['x-deny'] ? { status: 403, code: 'WEFT_ERR_TEST_DENIED' } : undefined;
  },
};
const slowPass: RequestFilter = { name: 'async-pass', onRequest: () => new Promise((r) => setTimeout(() => r(undefined), 5)) };

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [app.port])],
    }),
    { appPorts: [String(app.port)] },
    { filters: { egress: [slowPass, deny], inbound: [deny] } },
  );
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('filters run before routing and may refuse with their own code', async () => {
  const refused = await get(sidecar.handle.ports.egress!, '/x', { host: 'orders.demo.local', 'x-deny': '1' });
  expect(refused.status).toBe(403);
  expect(refused.headers['x-weft-error']).toBe('WEFT_ERR_TEST_DENIED');
  expect(app.seen.some((r) => r.url === '/x')).toBe(false);
  const passed = await get(sidecar.handle.ports.egress!, '/y', { host: 'orders.demo.local' });
  expect(passed.status).toBe(200);
  const inbound = await get(sidecar.handle.ports.inbound!, '/z', { host: 'me', 'x-deny': '1' });
  expect(inbound.status).toBe(403);
  expect(calls).toEqual(['egress:/x', 'egress:/y', 'inbound:/z']);
});
