/**
 * SIGTERM to one of two inbound sidecars (real processes) while a caller sends them load over a
 * route with the compiler's default retry policy (so the retry budget, max(3, 20% of active), and
 * the `maxRetries` breaker of 3 hold): the stopping sidecar refuses new connections and closes its
 * kept-alive ones; the caller's first refused connect takes the stopped endpoint out of rotation
 * (proxy/cluster/connect-failures.ts), the requests already on their way there go to the other
 * endpoint without a retry (their connect failed, so they never left: proxy/exchange/attempt.ts),
 * and resets are retried. No request fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import { meshDefaultRetryPolicy } from '../../../proxy/contracts/fields-not-applied';
import { ConfigDir, eventually, freePort, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';

let bundle: string;
let app: Upstream;
const dirs: ConfigDir[] = [];

beforeAll(async () => {
  const dir = new ConfigDir();
  dirs.push(dir);
  bundle = join(dir.dir, 'proxy.js');
  await build({ entryPoints: [join(__dirname, '../fixtures/proxy-entry.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error' });
  app = await startUpstream('orders', { delayMs: 20 });
});
afterAll(async () => {
  await app.close();
  for (const d of dirs) d.remove();
});

/** An inbound sidecar process for the `orders` node, in front of the shared app. */
async function inboundSidecar(): Promise<{ child: ChildProcess; inbound: number; exited: Promise<number | null> }> {
  const config = new ConfigDir();
  dirs.push(config);
  config.write(nodeBody({ name: 'orders' }));
  const [inbound, egress, admin] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [bundle, '--config', config.path, '--inbound-port', String(inbound), '--egress-port', String(egress), '--admin-port', String(admin), '--app-ports', String(app.port), '--drain-deadline-ms', '10000', '--listen-address', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => output.includes('"sidecar_started"'), 'the inbound sidecar to start');
  return { child, inbound, exited };
}

test.each([20, 50])('SIGTERM to one of two inbound sidecars under load (%i clients), behind the default retry policy: no request fails', async (clients) => {
  const [a, b] = [await inboundSidecar(), await inboundSidecar()];
  let caller: Running | undefined;
  const client = new Agent({ connections: clients, keepAliveTimeout: 30_000 });
  try {
    caller = await startWith(
      nodeBody({
        services: [
          { name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 }, undefined, { retryPolicy: meshDefaultRetryPolicy('http', TIMEOUT.perRequestMs) })] }] },
        ],
        clusters: [staticCluster('orders:8080', [a.inbound, b.inbound])],
      }),
      { randomSeed: 11 },
    );
    const egress = caller.handle.ports.egress!;
    const failures: string[] = [];
    let ok = 0;
    let okAfterKill = 0;
    let killed = false;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const res = await request(`http://127.0.0.1:${egress}/load`, { headers: { host: 'orders.demo.local' }, dispatcher: client });
          const text = await res.body.text();
          if (res.statusCode === 200) {
            ok++;
            if (killed) okAfterKill++;
          } else failures.push(`${res.statusCode} ${String(res.headers['x-weft-error'])} ${text.slice(0, 80)}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    // Far more clients than the 3 retries the budget and breaker allow in flight: without the
    // connect-failure state, every request that picked the stopped endpoint needed a retry, and
    // most were refused (503).
    const workers = Array.from({ length: clients }, worker);
    await eventually(() => ok >= clients * 20, 'load to build up');
    killed = true;
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    // Load goes on; the stopped endpoint is still in the cluster's list (a static cluster).
    const target = okAfterKill + clients * 15;
    await eventually(() => okAfterKill >= target, 'load after the drain');
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    const cluster = caller.handle.store.current!.clusters.get('orders:8080')!;
    // The stopped endpoint was met (refused connects), and it is out of rotation.
    expect(cluster.stats.connectFailures).toBeGreaterThan(0);
    const stopped = (cluster.describe().endpoints as { port: number; unhealthy: string[]; connect?: { failing: boolean } }[]).find((e) => e.port === a.inbound)!;
    expect(stopped).toMatchObject({ unhealthy: ['connect_failing'], connect: { failing: true } });
  } finally {
    await client.close();
    await caller?.close();
    for (const s of [a, b]) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
}, 60_000);
