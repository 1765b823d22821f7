/**
 * `weft up` end to end, as a user runs it: the built CLI (dist/weft.js, made by `npm run build`,
 * which `npm test` runs first) in a child process, on the mesh in test/local/mesh/ (a gateway,
 * `front` calling `orders` v1 and v2 over mutual TLS, apps from test/local/apps/).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agent, eventually, get } from '../proxy/harness';
import { alive, descendants } from './processes';

const root = join(__dirname, '..', '..');
const WEFT = join(root, 'dist', 'weft.js');
const FRONT_ID = 'spiffe://shop/ns/shop/sa/front';
const EDGE_ID = 'spiffe://shop/ns/shop/sa/edge';

interface Ports {
  nodes: Record<string, { egress: number; inbound: number; admin: number; app: number }[]>;
  gateways: Record<string, Record<string, number>>;
}
interface Connection {
  listener: string;
  encrypted: boolean;
  spiffeId: string | null;
}

let work: string;
let up: ChildProcess;
let output = '';
let exit: Promise<number | null>;
let ports: Ports;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'weft-up-'));
  cpSync(join(__dirname, 'mesh'), join(work, 'mesh'), { recursive: true });
  up = spawn(process.execPath, [WEFT, 'up', join(work, 'mesh'), '--state-dir', join(work, 'state'), '--ports-file', join(work, 'ports.json'), '--free-gateway-ports'], {
    cwd: root,
    env: { ...process.env, WEFT_RANDOM_SEED: '7' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  up.stdout!.on('data', (d) => (output += d));
  up.stderr!.on('data', (d) => (output += d));
  exit = new Promise((resolve) => up.once('exit', (code) => resolve(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  await eventually(() => output.includes('weft up: ready') || exited, 'weft up to be ready', 60_000);
  if (exited) throw new Error(`weft up exited at start:\n${output}`);
  ports = JSON.parse(readFileSync(join(work, 'ports.json'), 'utf8')) as Ports;
}, 90_000);

afterAll(async () => {
  if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  await agent.close();
  rmSync(work, { recursive: true, force: true });
});

const gateway = () => ports.gateways.edge['8080'];
const calledVersion = async (): Promise<{ status: number; name: string | undefined }> => {
  const res = await get(gateway(), '/');
  const body = JSON.parse(res.text) as { called?: { name: string } };
  return { status: res.status, name: body.called?.name };
};

test('the ports file lists every replica and the gateway listener', () => {
  expect(Object.keys(ports.nodes).sort()).toEqual(['front', 'orders-v1', 'orders-v2']);
  for (const replicas of Object.values(ports.nodes)) expect(replicas).toEqual([{ egress: expect.any(Number), inbound: expect.any(Number), admin: expect.any(Number), app: expect.any(Number) }]);
  expect(ports.gateways).toEqual({ edge: { 8080: expect.any(Number) } });
});

test('a request through the gateway reaches front, whose app calls orders through its own sidecar', async () => {
  const res = await get(gateway(), '/');
  expect(res.status).toBe(200);
  expect(JSON.parse(res.text)).toEqual({ name: 'front', called: { name: 'orders-v1' } });
});

test("a request to an app's egress port reaches another service", async () => {
  const res = await get(ports.nodes.front[0].egress, '/', { host: 'orders.shop.local:8080' });
  expect(res.status).toBe(200);
  expect(JSON.parse(res.text)).toEqual({ name: 'orders-v1' });
});

test("the callees' sidecars saw the callers' SPIFFE ids over mutual TLS", async () => {
  await calledVersion();
  const connections = async (node: string) => ((await get(ports.nodes[node][0].admin, '/connections')).json() as unknown as { connections: Connection[] }).connections;
  expect(await connections('orders-v1')).toContainEqual(expect.objectContaining({ listener: 'inbound', encrypted: true, spiffeId: FRONT_ID }));
  expect(await connections('front')).toContainEqual(expect.objectContaining({ listener: 'inbound', encrypted: true, spiffeId: EDGE_ID }));
});

test('editing the route weights moves the split, with no failed request', async () => {
  const route = join(work, 'mesh', 'route.yaml');
  writeFileSync(route, readFileSync(route, 'utf8').replace('orders-v1, weight: 100', 'orders-v1, weight: 0').replace('orders-v2, weight: 0', 'orders-v2, weight: 100'));
  const seen: { status: number; name: string | undefined }[] = [];
  await eventually(async () => {
    seen.push(await calledVersion());
    return seen[seen.length - 1].name === 'orders-v2';
  }, 'a request to reach orders-v2', 30_000);
  for (let i = 0; i < 20; i++) seen.push(await calledVersion());
  expect(seen.filter((r) => r.status !== 200)).toEqual([]);
  expect(seen.slice(-20).map((r) => r.name)).toEqual(Array(20).fill('orders-v2'));
  expect(output).toContain('weft up: reloaded: 1 node config changed');
}, 45_000);

test('raising a replica count starts the new replica, which joins the ports file and takes traffic', async () => {
  const local = join(work, 'mesh', 'local.yaml');
  writeFileSync(local, readFileSync(local, 'utf8').replace('env: { NAME: orders-v2 }', 'env: { NAME: orders-v2 }\n  replicas: 2'));
  await eventually(() => output.includes('started orders-v2/1'), 'the second replica to start', 30_000);
  ports = JSON.parse(readFileSync(join(work, 'ports.json'), 'utf8')) as Ports;
  expect(ports.nodes['orders-v2']).toHaveLength(2);
  const second = ports.nodes['orders-v2'][1];
  expect((await get(second.app, '/')).text).toBe('{"name":"orders-v2"}');
  // Callers reach it through its sidecar: round robin over two replicas sends it every other request.
  const inbound = async () => ((await get(second.admin, '/stats')).json() as unknown as { listeners: { inbound: { requests: number } } }).listeners.inbound.requests;
  const before = await inbound();
  await eventually(async () => {
    expect((await calledVersion()).status).toBe(200);
    return (await inbound()) > before;
  }, 'the new replica to serve a request', 30_000);
}, 45_000);

test('lowering it again takes the replica out of the endpoints file, then stops it, with no failed request', async () => {
  const local = join(work, 'mesh', 'local.yaml');
  const removed = ports.nodes['orders-v2'][1];
  const statuses: number[] = [];
  let edited = false;
  const traffic = (async () => {
    while (!edited || !output.includes('stopped orders-v2/1')) statuses.push((await calledVersion()).status);
  })();
  writeFileSync(local, readFileSync(local, 'utf8').replace('\n  replicas: 2', ''));
  edited = true;
  await traffic;
  ports = JSON.parse(readFileSync(join(work, 'ports.json'), 'utf8')) as Ports;
  expect(ports.nodes['orders-v2']).toHaveLength(1);
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  await expect(get(removed.admin, '/ready')).rejects.toThrow();
}, 45_000);

test('an invalid edit prints its errors with file and line and keeps the last good mesh', async () => {
  const route = join(work, 'mesh', 'route.yaml');
  writeFileSync(route, readFileSync(route, 'utf8').replace('orders-v2, weight: 100', 'orders-v3, weight: 100'));
  await eventually(() => output.includes('still running the last good mesh'), 'weft up to refuse the edit', 30_000);
  expect(output).toMatch(/route\.yaml:\d+: Route\/split: .*orders-v3/);
  expect(await calledVersion()).toEqual({ status: 200, name: 'orders-v2' });
}, 45_000);

test('SIGTERM drains and stops everything: weft up exits 0 and none of its processes is left', async () => {
  const pids = descendants(up.pid!);
  // Four sidecars and three apps.
  expect(pids).toHaveLength(7);
  up.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(pids.filter(alive)).toEqual([]);
}, 30_000);

describe('refusing to start', () => {
  const upOnce = (dir: string) => spawnSync(process.execPath, [WEFT, 'up', dir, '--state-dir', join(dir, '.weft')], { cwd: root, encoding: 'utf8', timeout: 60_000 });

  test('a broken mesh exits 1 and prints every error with file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-up-broken-'));
    try {
      cpSync(join(__dirname, 'mesh'), dir, { recursive: true });
      writeFileSync(join(dir, 'extra.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: LocalWorkload\nmetadata: { name: payments }\nspec:\n  command: [node, app.js]\n  replicas: many\n');
      const r = upOnce(dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${join(dir, 'extra.yaml')}:6: LocalWorkload/payments: spec.replicas: must be a number, got: many`);
      expect(r.stderr).toContain('1 error');
      expect(r.stdout).not.toContain('ready');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a port it cannot bind is reported with the name of what needed it", async () => {
    const held: Server = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'weft-up-port-'));
    try {
      writeFileSync(
        join(dir, 'mesh.yaml'),
        `apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: shop }\n---\napiVersion: weft.dev/v1alpha1\nkind: VirtualGateway\nmetadata: { name: edge }\nspec:\n  listeners: [{ portMapping: { port: ${port}, protocol: http } }]\n`,
      );
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [WEFT, 'up', dir, '--state-dir', join(dir, '.weft')], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.once('exit', (status) => resolve({ status, stderr }));
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`edge: cannot bind the listener ${port} port ${port}: it is in use`);
    } finally {
      held.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
