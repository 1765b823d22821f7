/**
 * Every controller client honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>: each adapter,
 * built through its production client getter, is pointed at a real HTTP server on 127.0.0.1 and
 * must send its request there.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiscoverInstancesCommand } from '@aws-sdk/client-servicediscovery';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientOptions, customEndpoint } from '../../../lambda/aws/client-config';
import { createLocalCa } from '../../../lambda/certificates/local-ca';

interface Seen {
  host: string;
  method: string;
  url: string;
  target: string;
}

let rootPem = '';

function reply(req: IncomingMessage): { status: number; headers: Record<string, string>; body: string } {
  const target = String(req.headers['x-amz-target'] ?? '');
  const json = (body: unknown) => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) });
  if (target.endsWith('.GetInstance')) return json({ Instance: { Id: 'i-1', Attributes: { WEFT_EVENT_VERSION: '2' } } });
  if (target.endsWith('.DiscoverInstances')) return json({ Instances: [] });
  if (target.endsWith('.GetSecretValue')) return json({ SecretString: 'value', VersionId: 'v-1', Name: 's' });
  if (target.endsWith('.GetCertificateAuthorityCertificate')) return json({ Certificate: rootPem });
  if (target.endsWith('.ListClusters')) return json({ clusterArns: ['arn:aws:ecs:eu-west-1:1:cluster/local'] });
  if (req.method === 'HEAD') return { status: 200, headers: { etag: '"abc"', 'x-amz-meta-weft-sha256': 'h1' }, body: '' };
  return { status: 400, headers: {}, body: '' };
}

async function startServer(seen: Seen[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ host: String(req.headers.host), method: req.method ?? '', url: req.url ?? '', target: String(req.headers['x-amz-target'] ?? '') });
      const r = reply(req);
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const saved = { ...process.env };
let global: { server: Server; url: string };
let specific: { server: Server; url: string };
const seenGlobal: Seen[] = [];
const seenSpecific: Seen[] = [];

let caDir: string;
beforeAll(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'weft-endpoint-'));
  rootPem = await createLocalCa({ dir: caDir }).caCertificatePem();
  global = await startServer(seenGlobal);
  specific = await startServer(seenSpecific);
});
afterAll(async () => {
  rmSync(caDir, { recursive: true, force: true });
  await Promise.all([global, specific].map((s) => new Promise((r) => s.server.close(r))));
});
beforeEach(() => {
  seenGlobal.length = 0;
  seenSpecific.length = 0;
  process.env = { ...saved, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_ENDPOINT_URL: global.url };
});
afterEach(() => {
  process.env = saved;
});

/** Loads an adapter module afresh so its once-per-container client sees this test's environment. */
async function fresh<T>(load: () => Promise<T>): Promise<T> {
  let mod: T | undefined;
  await jest.isolateModulesAsync(async () => {
    mod = await load();
  });
  return mod as T;
}

const s3 = () => fresh(() => import('../../../lambda/aws/s3'));
const cloudMap = () => fresh(() => import('../../../lambda/aws/cloud-map'));
const secrets = () => fresh(() => import('../../../lambda/aws/secrets'));
const pca = () => fresh(() => import('../../../lambda/aws/pca'));
const ecs = () => fresh(() => import('../../../lambda/aws/ecs'));

const calls: [string, string, () => Promise<unknown>, string][] = [
  ['S3', 'AWS_ENDPOINT_URL_S3', async () => (await s3()).createS3Store().head('bucket', 'mesh/nodes/a.json'), 'HEAD /bucket/mesh/nodes/a.json'],
  ['Cloud Map', 'AWS_ENDPOINT_URL_SERVICEDISCOVERY', async () => (await cloudMap()).createCloudMap().getInstance('srv-1', 'i-1'), 'Route53AutoNaming_v20170314.GetInstance'],
  ['Secrets Manager', 'AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => (await secrets()).createSecretStore().get('s', 'AWSCURRENT'), 'secretsmanager.GetSecretValue'],
  ['Private CA', 'AWS_ENDPOINT_URL_ACM_PCA', async () => (await pca()).createPcaAuthority({ certificateAuthorityArn: 'arn:aws:acm-pca:eu-west-1:1:certificate-authority/x' }).caCertificatePem(), 'ACMPrivateCA.GetCertificateAuthorityCertificate'],
  ['ECS', 'AWS_ENDPOINT_URL_ECS', async () => (await ecs()).createEcs().listClusters(), 'AmazonEC2ContainerServiceV20141113.ListClusters'],
];

const describeCall = (s: Seen) => (s.target ? s.target : `${s.method} ${s.url.split('?')[0]}`);

describe('custom endpoints', () => {
  test.each(calls)('%s honours AWS_ENDPOINT_URL', async (_name, _specificVar, call, expected) => {
    await expect(call()).resolves.toBeDefined();
    expect(seenGlobal.map(describeCall)).toEqual([expected]);
    expect(seenGlobal[0].host).toBe(new URL(global.url).host);
  });

  test.each(calls)('%s prefers its service-specific variable', async (_name, specificVar, call, expected) => {
    process.env[specificVar] = specific.url;
    await call();
    expect(seenSpecific.map(describeCall)).toEqual([expected]);
    expect(seenGlobal).toEqual([]);
  });

  test('Cloud Map data-plane calls keep the custom host (no data- prefix)', async () => {
    const client = (await cloudMap()).cloudMapClient();
    await client.send(new DiscoverInstancesCommand({ NamespaceName: 'shop.local', ServiceName: 'orders' }));
    expect(seenGlobal.map((s) => [s.host, s.target])).toEqual([[new URL(global.url).host, 'Route53AutoNaming_v20170314.DiscoverInstances']]);
  });

  test('client options follow the environment', () => {
    expect(clientOptions('servicediscovery', {})).toEqual({ maxAttempts: 1 });
    expect(clientOptions('servicediscovery', { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' })).toEqual({ maxAttempts: 1, disableHostPrefix: true });
    expect(clientOptions('s3', { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' })).toEqual({ maxAttempts: 1, forcePathStyle: true });
    expect(customEndpoint('ecs', { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_ECS: 'http://b' })).toBe('http://b');
    expect(customEndpoint('ecs', { AWS_ENDPOINT_URL: 'http://a', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBeUndefined();
  });
});
