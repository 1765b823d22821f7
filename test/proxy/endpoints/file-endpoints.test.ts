import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENDPOINTS_FILE_SCHEMA } from '../../../proxy/contracts';
import type { Logger } from '../../../proxy/log';
import { agent, ConfigDir, get, httpRoute, nodeBody, startUpstream, startWith, eventually, type Running, type Upstream } from '../harness';

let v1: Upstream;
let v2: Upstream;
let v2b: Upstream;
let sidecar: Running;
let file: string;
let dir: ConfigDir;
/** The sidecar's log, to wait for the event that proves a file was read. */
const logged: { event: string; fields: Record<string, unknown> }[] = [];
const logger: Logger = { log: (_level, event, fields = {}) => void logged.push({ event, fields }) };
const rejections = (): Record<string, unknown>[] => logged.filter((l) => l.event === 'endpoints_file_rejected').map((l) => l.fields);

const instance = (id: string, port: number, version: string) => ({
  instanceId: id,
  attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: String(port), AVAILABILITY_ZONE: 'az1', version },
});

function writeEndpoints(instances: ReturnType<typeof instance>[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ schema: ENDPOINTS_FILE_SCHEMA, services: { 'demo.local/orders': instances } }));
  renameSync(tmp, file);
}

beforeAll(async () => {
  [v1, v2, v2b] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startUpstream('v2b')]);
  const body = nodeBody({
    services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders-v2:8080': 1 })] }] }],
    clusters: [
      {
        name: 'orders-v2:8080',
        virtualNode: 'orders-v2',
        port: 8080,
        protocol: 'http',
        discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders', attributes: { version: 'v2' } },
      },
    ],
  });
  // The endpoints file lives beside the config; write it before the sidecar reads it.
  dir = new ConfigDir();
  file = join(dir.dir, 'endpoints.json');
  writeEndpoints([instance('i-1', v1.port, 'v1'), instance('i-2', v2.port, 'v2')]);
  sidecar = await startWith(body, { endpoints: `file:${file}` }, { logger });
});
afterAll(async () => {
  await sidecar.close();
  await Promise.all([v1.close(), v2.close(), v2b.close(), agent.close()]);
  dir.remove();
});

test('Cloud Map-shaped instances are filtered by the cluster attributes and addressed by AWS_INSTANCE_IPV4/PORT', async () => {
  for (let i = 0; i < 10; i++) expect((await get(sidecar.handle.ports.egress!, '/', { host: 'orders.demo.local' })).json().name).toBe('v2');
});

test('a changed endpoints file is followed; a bad one keeps the last good endpoints', async () => {
  writeEndpoints([instance('i-1', v1.port, 'v1'), instance('i-3', v2b.port, 'v2')]);
  await eventually(async () => (await get(sidecar.handle.ports.egress!, '/', { host: 'orders.demo.local' })).json().name === 'v2b', 'the new endpoint');
  const rejectedBefore = rejections().length;
  writeFileSync(file, '{ not json');
  await eventually(() => rejections().length > rejectedBefore, 'the bad endpoints file to be read and rejected');
  expect(rejections().at(-1)).toMatchObject({ path: file, code: 'WEFT_ERR_ENDPOINTS_INVALID' });
  expect((await get(sidecar.handle.ports.egress!, '/', { host: 'orders.demo.local' })).json().name).toBe('v2b');
});
