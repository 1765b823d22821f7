/**
 * Ordering of endpoint file reads. Which read finishes first is up to the file system, so this
 * test controls readFile: an older, slower read must not overwrite what a newer read applied.
 */
import type { Cluster } from '../../../proxy/contracts';
import { ENDPOINTS_FILE_SCHEMA } from '../../../proxy/contracts';
import { createLogger } from '../../../proxy/log';
import type { FileEndpointSource as Source } from '../../../proxy/endpoints/file-endpoint-source';

type Pending = { resolve: (text: string) => void };
const pending: Pending[] = [];
jest.mock('node:fs/promises', () => ({
  readFile: () => new Promise<string>((resolve) => pending.push({ resolve })),
}));
jest.mock('../../../proxy/sources/file-watch', () => ({ watchFile: () => ({ close: () => undefined }) }));

// Imported after the mocks are in place.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FileEndpointSource } = require('../../../proxy/endpoints/file-endpoint-source') as { FileEndpointSource: typeof Source };

const fileWith = (port: number): string =>
  JSON.stringify({
    schema: ENDPOINTS_FILE_SCHEMA,
    services: { 'demo.local/orders': [{ instanceId: `i-${port}`, attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: String(port) } }] },
  });

const cluster = {
  name: 'orders:8080',
  discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders', attributes: {} },
} as unknown as Cluster;

test('an older read that finishes after a newer one does not replace its endpoints', async () => {
  const source = new FileEndpointSource('/nowhere/endpoints.json', createLogger('error', () => undefined));
  const reload = (source as unknown as { reload(): Promise<void> }).reload.bind(source);
  const ports: number[][] = [];
  source.watch(cluster, (eps) => ports.push(eps.map((e) => e.port)));
  const older = reload();
  const newer = reload();
  pending[1].resolve(fileWith(2002));
  await newer;
  pending[0].resolve(fileWith(1001));
  await older;
  expect(ports).toEqual([[], [2002]]);
});
