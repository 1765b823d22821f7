/**
 * A sidecar given a node config of a newer schema version than it reads: what happens when a mesh
 * is deployed with a newer compiler before the sidecars were upgraded. Real sidecars on real
 * sockets, the config in a watched file.
 */
import { NODE_CONFIG_VERSION, nodeConfigSchemaId, nodeConfigVersion, sealNodeConfig } from '../../../proxy/contracts';
import { createLogger, silentLogger } from '../../../proxy/log';
import { startSidecar } from '../../../proxy/main';
import { agent, ConfigDir, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, testSettings, type ConfigBody, type Upstream } from '../harness';

const UNSUPPORTED = 'WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED';
const NEWER = nodeConfigSchemaId(NODE_CONFIG_VERSION + 1);

let v1: Upstream;
let v2: Upstream;

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
});
afterAll(async () => {
  await agent.close();
  await Promise.all([v1.close(), v2.close()]);
});

/** A node that sends orders.demo.local to `target`. */
function body(target: 'v1' | 'v2'): ConfigBody {
  return nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { [`${target}:8080`]: 1 })] }] }],
    clusters: [staticCluster(`${target}:8080`, [(target === 'v1' ? v1 : v2).port])],
  });
}

/** What a later release's compiler writes for `b`: its stamp, and fields this release has never heard of. */
function newerConfig(b: ConfigBody): string {
  const doc: Record<string, unknown> = { ...sealNodeConfig(b), schema: NEWER, telemetry: { tracing: { sampling: 0.1 } } };
  return JSON.stringify({ ...doc, version: nodeConfigVersion(doc as Parameters<typeof nodeConfigVersion>[0]) });
}

test('a newer config fails the start, with its own code', async () => {
  const dir = new ConfigDir();
  try {
    dir.writeText(newerConfig(body('v1')));
    await expect(startSidecar(testSettings({ config: dir.path }), { logger: silentLogger })).rejects.toMatchObject({ code: UNSUPPORTED, issues: [{ path: 'schema' }] });
  } finally {
    dir.remove();
  }
});

test('a newer config on reload is refused, logged and counted; the last good config keeps serving', async () => {
  const lines: Record<string, unknown>[] = [];
  const sidecar = await startWith(body('v1'), {}, { logger: createLogger('info', (line) => void lines.push(JSON.parse(line) as Record<string, unknown>)) });
  const { store } = sidecar.handle;
  const egress = sidecar.handle.ports.egress!;
  try {
    const good = store.current!.version;
    sidecar.config.writeText(newerConfig(body('v2')));
    await eventually(() => store.refusedNewer === 1, 'the newer config to be refused');
    expect(store.lastError?.code).toBe(UNSUPPORTED);
    expect(store.current!.version).toBe(good);
    expect(((await get(sidecar.handle.ports.admin, '/stats')).json() as unknown as { config: unknown }).config).toMatchObject({ version: good, refusedNewer: 1, lastError: { code: UNSUPPORTED } });
    expect(lines.find((l) => l.event === 'config_rejected')).toMatchObject({ level: 'error', code: UNSUPPORTED, source: sidecar.config.path, keeping: good });
    const res = await get(egress, '/', { host: 'orders.demo.local' });
    expect(res.status).toBe(200);
    expect(res.json().name).toBe('v1');

    // A config this sidecar reads applies as usual; the count of refusals stays.
    const next = sidecar.config.write(body('v2'));
    await eventually(() => store.current!.version === next.version, 'the readable config to apply');
    expect(store.lastError).toBeUndefined();
    expect(store.refusedNewer).toBe(1);
    expect((await get(egress, '/', { host: 'orders.demo.local' })).json().name).toBe('v2');
  } finally {
    await sidecar.close();
  }
});
