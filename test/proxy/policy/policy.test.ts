/**
 * Inbound policy checks as the listeners run them: a synchronous refusal with its own code, an
 * asynchronous pass, and a check that fails, which refuses (fail closed) and is logged. Real
 * sockets, a sidecar started in this process with checks from the embedder's policy seam.
 */
import type { PolicyCheck, PolicyFactory } from '../../../proxy/policy/policy';
import { agent, get, nodeBody, startUpstream, startWith, TIMEOUT, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
const calls: string[] = [];
const logged: { event: string; fields?: Record<string, unknown> }[] = [];

const deny: PolicyCheck = {
  name: 'deny-header',
  check: (r) => {
    calls.push(`${r.listener}:${r.http?.path}`);
    return r.http?.req.headers['x-deny'] ? { status: 403, code: 'WEFT_ERR_TEST_DENIED' } : undefined;
  },
};
const slowPass: PolicyCheck = { name: 'async-pass', check: () => new Promise((r) => setTimeout(() => r(undefined), 5)) };
const failing: PolicyCheck = {
  name: 'failing',
  check: (r) => (r.http?.req.headers['x-fail'] === 'sync' ? (JSON.parse('{') as undefined) : r.http?.req.headers['x-fail'] === 'async' ? Promise.reject(new Error('JWKS fetch failed')) : undefined),
};
const checks: PolicyFactory[] = [() => slowPass, () => deny, () => failing];

beforeAll(async () => {
  app = await startUpstream('orders');
  sidecar = await startWith(nodeBody({ inbound: [{ port: 8080, protocol: 'http', timeout: TIMEOUT }] }), { appPorts: [String(app.port)] }, {
    policy: checks,
    logger: { log: (_level, event, fields) => logged.push({ event, fields }) },
  });
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

test('checks run in order before the app; the first refusal answers with its own code', async () => {
  const inbound = sidecar.handle.ports.inbound!;
  const refused = await get(inbound, '/x', { host: 'me', 'x-deny': '1' });
  expect(refused.status).toBe(403);
  expect(refused.headers['x-weft-error']).toBe('WEFT_ERR_TEST_DENIED');
  expect(app.seen.some((r) => r.url === '/x')).toBe(false);
  const passed = await get(inbound, '/y', { host: 'me' });
  expect(passed.status).toBe(200);
  expect(calls).toEqual(['inbound:/x', 'inbound:/y']);
});

test.each(['sync', 'async'])('a check that fails (%s) refuses the request, fail closed, and is logged', async (how) => {
  const before = logged.filter((l) => l.event === 'policy_check_failed').length;
  const res = await get(sidecar.handle.ports.inbound!, `/fail-${how}`, { host: 'me', 'x-fail': how });
  expect(res.status).toBe(500);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_POLICY_FAILED');
  expect(app.seen.some((r) => r.url === `/fail-${how}`)).toBe(false);
  const lines = logged.filter((l) => l.event === 'policy_check_failed');
  expect(lines.length).toBe(before + 1);
  expect(lines.at(-1)!.fields).toMatchObject({ code: 'WEFT_ERR_POLICY_FAILED', listener: 'inbound' });
});
