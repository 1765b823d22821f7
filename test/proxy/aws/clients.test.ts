/**
 * The clients against real HTTP servers on 127.0.0.1 standing in for AWS: proves where requests
 * go (custom endpoints, no `data-` host prefix for Cloud Map, path-style S3) and how the real SDK
 * surfaces S3's 304 to the config source.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { DiscoverInstancesCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { AWS_ENDPOINT_INVALID, createS3Client, createServiceDiscoveryClient, customEndpoint } from '../../../proxy/aws/clients';
import { createCloudMapEndpointSource } from '../../../proxy/aws/cloud-map-endpoint-source';
import { CONFIG_UNREADABLE, createS3ConfigSource } from '../../../proxy/aws/s3-config-source';
import { ClusterSchema } from '../../../proxy/contracts';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}
interface StandIn {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: StandIn[] = [];

async function standIn(answer: (req: Seen) => Reply): Promise<StandIn> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(entry);
      const reply = answer(entry);
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: StandIn = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  servers.push(s);
  return s;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** A Cloud Map stand-in (awsJson1_1): one instance, revision 5. */
function cloudMapReply(req: Seen): Reply {
  const target = String(req.headers['x-amz-target']);
  const json = { 'content-type': 'application/x-amz-json-1.1' };
  if (target.endsWith('.DiscoverInstancesRevision')) return { status: 200, headers: json, body: JSON.stringify({ InstancesRevision: 5 }) };
  if (target.endsWith('.DiscoverInstances')) {
    const Instances = [
      {
        InstanceId: 'task-1',
        NamespaceName: 'demo.local',
        ServiceName: 'orders',
        HealthStatus: 'HEALTHY',
        Attributes: { AWS_INSTANCE_IPV4: '10.0.1.5', AWS_INSTANCE_PORT: '15000', AVAILABILITY_ZONE: 'eu-west-1a', version: 'v1' },
      },
    ];
    return { status: 200, headers: json, body: JSON.stringify({ Instances, InstancesRevision: 5 }) };
  }
  return { status: 400, headers: json, body: JSON.stringify({ __type: 'UnknownOperationException' }) };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('customEndpoint', () => {
  test('the service variable beats AWS_ENDPOINT_URL; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns both off', () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:1000', AWS_ENDPOINT_URL_SERVICEDISCOVERY: 'http://127.0.0.1:2000' };
    expect(customEndpoint('ServiceDiscovery', env)).toBe('http://127.0.0.1:2000');
    expect(customEndpoint('S3', env)).toBe('http://127.0.0.1:1000');
    expect(customEndpoint('Secrets Manager', { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'https://127.0.0.1:3000' })).toBe('https://127.0.0.1:3000');
    expect(customEndpoint('S3', {})).toBeUndefined();
    expect(customEndpoint('S3', { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBeUndefined();
  });

  test('a value that is not an http(s) URL is refused with a code', () => {
    for (const bad of ['127.0.0.1:4566', 'ftp://127.0.0.1', 'not a url']) {
      expect(() => customEndpoint('S3', { AWS_ENDPOINT_URL_S3: bad })).toThrow(expect.objectContaining({ code: AWS_ENDPOINT_INVALID }));
    }
  });
});

describe('Cloud Map through a custom endpoint', () => {
  test('AWS_ENDPOINT_URL_SERVICEDISCOVERY: DiscoverInstances reaches the endpoint host itself, with no data- prefix', async () => {
    const cm = await standIn(cloudMapReply);
    const client = createServiceDiscoveryClient({ credentials, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_SERVICEDISCOVERY: cm.url } });
    const input = { NamespaceName: 'demo.local', ServiceName: 'orders', QueryParameters: { version: 'v1' }, HealthStatus: 'HEALTHY_OR_ELSE_ALL' as const, MaxResults: 1000 };
    const res = await client.send(new DiscoverInstancesCommand(input));
    expect(res.Instances?.map((i) => i.InstanceId)).toEqual(['task-1']);
    expect(cm.seen).toHaveLength(1);
    expect(cm.seen[0].headers.host).toBe(new URL(cm.url).host);
    expect(cm.seen[0].url).toBe('/');
    expect(cm.seen[0].headers['x-amz-target']).toBe('Route53AutoNaming_v20170314.DiscoverInstances');
    expect(JSON.parse(cm.seen[0].body)).toEqual(input);
    expect(String(cm.seen[0].headers.authorization)).toContain('/us-east-1/servicediscovery/aws4_request');
    client.destroy();
  });

  test('without disableHostPrefix the SDK would dial data-<host>: the request never reaches the endpoint', async () => {
    const cm = await standIn(cloudMapReply);
    const client = new ServiceDiscoveryClient({ endpoint: cm.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    await expect(client.send(new DiscoverInstancesCommand({ NamespaceName: 'demo.local', ServiceName: 'orders' }))).rejects.toThrow(/data-127\.0\.0\.1/);
    expect(cm.seen).toHaveLength(0);
    client.destroy();
  });

  test('the endpoint source over AWS_ENDPOINT_URL: endpoints delivered, revision checks reach the same host', async () => {
    const cm = await standIn(cloudMapReply);
    const source = createCloudMapEndpointSource({ credentials, region: 'eu-west-1', env: { AWS_ENDPOINT_URL: cm.url }, intervalMs: 20 });
    const sets: (readonly DiscoveredEndpoint[])[] = [];
    const cluster = ClusterSchema.parse({
      name: 'orders:8080',
      virtualNode: 'orders',
      port: 8080,
      protocol: 'http',
      discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders', attributes: { version: 'v1' } },
    });
    try {
      source.watch(cluster, (e) => sets.push(e));
      await eventually(() => cm.seen.some((s) => String(s.headers['x-amz-target']).endsWith('.DiscoverInstancesRevision')), 'a revision check');
      expect(sets).toEqual([[{ id: 'task-1', address: '10.0.1.5', port: 15000, zone: 'eu-west-1a', weight: 1, healthy: true }]]);
      for (const s of cm.seen) expect(s.headers.host).toBe(new URL(cm.url).host);
      expect(String(cm.seen[0].headers.authorization)).toContain('/eu-west-1/servicediscovery/aws4_request');
      expect(source.stats()).toMatchObject({ errors: 0 });
    } finally {
      source.close();
    }
  });
});

describe('S3 through a custom endpoint', () => {
  test('AWS_ENDPOINT_URL_S3: path-style GETs; the real SDK 304 is "no change"; a new object is delivered', async () => {
    let object = { etag: '"v1etag"', text: '{"version":"1"}' };
    const s3 = await standIn((req): Reply => {
      if (req.method !== 'GET' || req.url.split('?')[0] !== '/weft-config/demo/nodes/orders.json') return { status: 404, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>NoSuchKey</Code></Error>' };
      if (req.headers['if-none-match'] === object.etag) return { status: 304, headers: { etag: object.etag } };
      return { status: 200, headers: { etag: object.etag, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(object.text)) }, body: object.text };
    });
    const source = createS3ConfigSource('s3://weft-config/demo/nodes/orders.json', { credentials, env: { AWS_ENDPOINT_URL_S3: s3.url }, pollMs: 20 });
    const changes: string[] = [];
    const errors: Error[] = [];
    try {
      await expect(source.read()).resolves.toBe('{"version":"1"}');
      expect(s3.seen[0].headers.host).toBe(new URL(s3.url).host);
      expect(s3.seen[0].headers['if-none-match']).toBeUndefined();
      source.watch((t) => changes.push(t), (e) => errors.push(e));
      await eventually(() => s3.seen.length >= 3, 'two conditional polls');
      expect(s3.seen[1].headers['if-none-match']).toBe('"v1etag"');
      expect(changes).toEqual([]);
      expect(source.stats().notModified).toBeGreaterThanOrEqual(1);

      object = { etag: '"v2etag"', text: '{"version":"2"}' };
      await eventually(() => changes.length > 0, 'the new object');
      expect(changes).toEqual(['{"version":"2"}']);
      await eventually(() => s3.seen.at(-1)!.headers['if-none-match'] === '"v2etag"', 'a poll with the new ETag');
      expect(errors).toEqual([]);
    } finally {
      source.close();
    }
  });

  test('S3 unreachable at start: read() rejects with WEFT_ERR_CONFIG_UNREADABLE', async () => {
    const gone = await standIn(() => ({ status: 200 }));
    const url = gone.url;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const source = createS3ConfigSource('s3://weft-config/demo/nodes/orders.json', { credentials, env: { AWS_ENDPOINT_URL: url } });
    await expect(source.read()).rejects.toMatchObject({ code: CONFIG_UNREADABLE });
    expect(source.stats()).toMatchObject({ errors: 1, etag: undefined });
    source.close();
  });

  test('createS3Client without a custom endpoint keeps virtual-host style and the default endpoint', async () => {
    const client = createS3Client({ region: 'eu-west-1', credentials, env: {} });
    expect(client.config.forcePathStyle).toBe(false);
    expect(await client.config.region()).toBe('eu-west-1');
    client.destroy();
  });
});
