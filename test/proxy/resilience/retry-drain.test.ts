/**
 * SIGTERM to one of two inbound sidecars (real processes) while a caller sends them load over a
 * route with the compiler's default retry policy: the stopping sidecar refuses new connections and
 * closes its kept-alive ones, and the caller retries the connect failures and resets that follow,
 * on the other endpoint. No request fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import { meshDefaultRetryPolicy } from '../../../proxy/contracts/fields-not-applied';
import { ConfigDir, eventually, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';

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

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

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

test('SIGTERM to one of two inbound sidecars under load (three clients), behind the default retry policy: no request fails', async () => {
  const [a, b] = [await inboundSidecar(), await inboundSidecar()];
  let caller: Running | undefined;
  const client = new Agent({ connections: 3, keepAliveTimeout: 30_000 });
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
    // Three clients, the retry budget's floor (and the default maxRetries breaker): every failed try
    // can be retried. With 20, about half the tries meet the stopped endpoint at once, and the
    // budget refuses most of their retries (503s) until the endpoint leaves rotation, which is
    // outlier detection's job, not the retry layer's.
    const workers = Array.from({ length: 3 }, worker);
    await eventually(() => ok >= 60, 'load to build up');
    killed = true;
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    // Load goes on against the remaining endpoint, which is still in the cluster's list.
    const target = okAfterKill + 300;
    await eventually(() => okAfterKill >= target, 'load after the drain');
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    const stats = caller.handle.store.current!.clusters.get('orders:8080')!.stats;
    expect(stats.retries).toBeGreaterThan(0);
  } finally {
    await client.close();
    await caller?.close();
    for (const s of [a, b]) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
}, 60_000);
