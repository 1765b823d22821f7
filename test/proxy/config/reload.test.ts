import { Agent, request } from 'undici';
import { httpRoute, nodeBody, startUpstream, startWith, staticCluster, eventually, type Running, type Upstream } from '../harness';

let v1: Upstream;
let v2: Upstream;
let sidecar: Running;

const body = (weights: Record<string, number>, connectTimeoutMs: number) =>
  nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', weights)] }] }],
    clusters: [staticCluster('v1:8080', [v1.port], { connectTimeoutMs }), staticCluster('v2:8080', [v2.port], { connectTimeoutMs })],
  });

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1', { delayMs: 15 }), startUpstream('v2', { delayMs: 15 })]);
  sidecar = await startWith(body({ 'v1:8080': 1 }, 1_000));
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([v1.close(), v2.close()]);
});

test('config reloads under load drop no request; new requests follow the new routes', async () => {
  const client = new Agent({ connections: 20 });
  const port = sidecar.handle.ports.egress!;
  const failures: string[] = [];
  const byName: Record<string, number> = { v1: 0, v2: 0 };
  let stop = false;
  let total = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const res = await request(`http://127.0.0.1:${port}/r`, { headers: { host: 'orders.demo.local' }, dispatcher: client });
        const seen = (await res.body.json()) as { name: string };
        if (res.statusCode !== 200) failures.push(`status ${res.statusCode}`);
        else byName[seen.name]++;
      } catch (err) {
        failures.push((err as Error).message);
      }
      total++;
    }
  };
  const workers = Array.from({ length: 10 }, worker);
  // Alternate routes, and change the clusters (new pools) on every other reload, while requests flow.
  const plans: [Record<string, number>, number][] = [
    [{ 'v2:8080': 1 }, 1_000],
    [{ 'v1:8080': 1 }, 2_000],
    [{ 'v2:8080': 1 }, 2_000],
    [{ 'v1:8080': 1, 'v2:8080': 1 }, 3_000],
  ];
  for (const [weights, timeout] of plans) {
    const before = total;
    await eventually(() => total >= before + 30, 'traffic between reloads');
    const next = sidecar.config.write(body(weights, timeout));
    await eventually(() => sidecar.handle.store.current!.version === next.version, 'the reload to apply');
  }
  const before = total;
  await eventually(() => total >= before + 30, 'traffic after the last reload');
  stop = true;
  await Promise.all(workers);
  await client.close();
  expect(failures).toEqual([]);
  expect(byName.v1).toBeGreaterThan(0);
  expect(byName.v2).toBeGreaterThan(0);
  expect(sidecar.handle.store.lastError).toBeUndefined();
});
