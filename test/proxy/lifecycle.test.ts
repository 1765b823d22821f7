import { spawn, type ChildProcess } from 'node:child_process';
import { connect as connectTcp, createServer } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import { ConfigDir, httpRoute, nodeBody, startUpstream, staticCluster, eventually, type Upstream } from './harness';

let bundle: string;
let app: Upstream;
let config: ConfigDir;

beforeAll(async () => {
  config = new ConfigDir();
  bundle = join(config.dir, 'proxy.js');
  // The whole sidecar in one file, as the image's build stage makes it.
  await build({ entryPoints: [join(__dirname, 'fixtures/proxy-entry.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'error' });
  app = await startUpstream('orders', { delayMs: 300 });
});
afterAll(async () => {
  await app.close();
  config.remove();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('SIGTERM under load: every accepted request is answered, then the process exits 0', async () => {
  config.write(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [app.port])],
    }),
  );
  const [inbound, egress, admin] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [bundle, '--config', config.path, '--inbound-port', String(inbound), '--egress-port', String(egress), '--admin-port', String(admin), '--drain-deadline-ms', '10000', '--listen-address', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => output.includes('"sidecar_started"'), 'the sidecar to start');

  const client = new Agent({ connections: 50, keepAliveTimeout: 30_000 });
  const answered = new Set<string>();
  let refused = 0;
  let killedAt = 0;
  let answeredAfterKill = 0;
  let n = 0;
  let stop = false;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const id = `w${w}-${n++}`;
      try {
        const res = await request(`http://127.0.0.1:${egress}/load`, { headers: { host: 'orders.demo.local', 'x-request-id': id }, dispatcher: client });
        await res.body.text();
        if (res.statusCode === 200) {
          answered.add(id);
          if (killedAt) answeredAfterKill++;
        }
      } catch {
        // Refused or reset before the request was read: never accepted.
        refused++;
        if (killedAt) stop = true;
      }
    }
  };
  const workers = Array.from({ length: 20 }, (_, w) => worker(w));
  await eventually(() => app.seen.length >= 40, 'load to build up');
  killedAt = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  stop = true;
  await Promise.all(workers);
  await client.close();

  expect(code).toBe(0);
  // Requests were in flight at SIGTERM and were still answered.
  expect(answeredAfterKill).toBeGreaterThan(0);
  const lost = app.seen.map((r) => r.headers['x-request-id'] as string).filter((id) => !answered.has(id));
  expect(lost).toEqual([]);
  expect(output).toContain('"drain_finished"');
  expect(refused).toBeGreaterThan(0);
}, 30_000);

test('a peer that resets its connection at any point costs that connection only, not the process', async () => {
  config.write(
    nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [app.port])],
    }),
  );
  const [inbound, egress, admin] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [bundle, '--config', config.path, '--inbound-port', String(inbound), '--egress-port', String(egress), '--admin-port', String(admin), '--listen-address', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => output.includes('"sidecar_started"'), 'the sidecar to start');

  // Resets while the listener still peeks the first bytes (no parser owns the socket yet), in
  // the middle of a TLS record, and in the middle of request headers; on both listeners.
  const resetAfter = (port: number, bytes: string) =>
    new Promise<void>((resolve) => {
      const socket = connectTcp(port, '127.0.0.1', () => socket.write(bytes, () => setTimeout(() => socket.resetAndDestroy(), 20)));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
  const cases = ['', 'PR', '\x16\x03\x01', 'GET / HTTP/1.1\r\nHost: orders.demo.local\r\nX-Half: '];
  for (const port of [inbound, egress]) {
    for (const bytes of cases) await resetAfter(port, bytes);
  }
  // The sidecar accepted every one of those connections and has closed its end of each.
  type Stats = { connections: Record<'inbound' | 'egress', { accepted: number; open: number }>; internalErrors: number };
  let stats: Stats | undefined;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`the sidecar exited: ${output}`);
    stats = (await (await request(`http://127.0.0.1:${admin}/stats`)).body.json()) as Stats;
    return [stats.connections.inbound, stats.connections.egress].every((c) => c.accepted === cases.length && c.open === 0);
  }, 'the sidecar to close every reset connection');
  expect(stats!.internalErrors).toBe(0);
  expect(child.exitCode).toBeNull();
  const res = await request(`http://127.0.0.1:${egress}/after-resets`, { headers: { host: 'orders.demo.local' } });
  await res.body.text();
  expect(res.statusCode).toBe(200);

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
