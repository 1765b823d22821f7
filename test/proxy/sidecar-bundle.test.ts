/**
 * The sidecar image's bundle (dist/weft-proxy.js, built by `npm run build`) as a child process:
 * it reads its node config from S3 through `AWS_ENDPOINT_URL` (a local stand-in that checks the
 * request is signed), which loads the AWS SDK file the bundle keeps apart, and forwards a request.
 */
import type * as SecretsManagerSdk from '@aws-sdk/client-secrets-manager';
import type * as ServiceDiscoverySdk from '@aws-sdk/client-servicediscovery';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ContractError, NODE_CONFIG_VERSION, nodeConfigSchemaId, parseNodeConfig, sealNodeConfig, serializeNodeConfig } from '../../proxy/contracts';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, staticCluster, type Upstream } from './harness';
import { freePorts } from '../../bench/ports';

const root = join(__dirname, '../..');
const bundle = join(root, 'dist/weft-proxy.js');

let upstream: Upstream;
let s3: Server;
const s3Requests: IncomingMessage[] = [];
let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill('SIGKILL');
  await agent.close();
  await upstream?.close();
  await new Promise((r) => s3?.close(r));
});

test('both bundle files are ASCII, so V8 keeps their source as one-byte strings (half the heap)', () => {
  for (const file of [bundle, join(root, 'dist/weft-proxy-aws.js')]) {
    const bytes = readFileSync(file);
    expect(bytes.findIndex((b) => b > 0x7f)).toBe(-1);
  }
});

const sdkExports = JSON.parse(readFileSync(join(root, 'proxy/aws/sdk-exports.json'), 'utf8')) as Record<string, string[]>;

/** Every `const { A, B } = xxxSdk()` in the sidecar's sources, as [factory, names]. */
function sdkUses(dir: string): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sdkUses(path));
    else if (entry.name.endsWith('.ts')) {
      for (const m of readFileSync(path, 'utf8').matchAll(/const \{([^}]+)\} = (\w+Sdk)\(\)/g)) out.push([m[2], m[1].split(',').map((n) => n.trim())]);
    }
  }
  return out;
}

test('the AWS SDK file exports exactly the listed SDK names, and the sidecar uses no other', () => {
  const aws = require(join(root, 'dist/weft-proxy-aws.js')) as Record<string, unknown>; // eslint-disable-line @typescript-eslint/no-require-imports -- the built file under test
  expect(Object.keys(aws).sort()).toEqual(Object.values(sdkExports).flat().sort());
  const factories: Record<string, string> = { s3Sdk: '@aws-sdk/client-s3', secretsManagerSdk: '@aws-sdk/client-secrets-manager', serviceDiscoverySdk: '@aws-sdk/client-servicediscovery' };
  const uses = sdkUses(join(root, 'proxy'));
  expect(uses.length).toBeGreaterThanOrEqual(6);
  for (const [factory, names] of uses) expect(sdkExports[factories[factory]]).toEqual(expect.arrayContaining(names));
});

test('the bundled Cloud Map and Secrets Manager clients talk JSON to an endpoint stand-in', async () => {
  const aws = require(join(root, 'dist/weft-proxy-aws.js')) as typeof ServiceDiscoverySdk & typeof SecretsManagerSdk; // eslint-disable-line @typescript-eslint/no-require-imports -- the built file under test
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(String(req.headers['x-amz-target']));
    const target = String(req.headers['x-amz-target']);
    const body = target.endsWith('.DiscoverInstances')
      ? { Instances: [{ InstanceId: 'i-1', NamespaceName: 'ns', ServiceName: 'svc', HealthStatus: 'HEALTHY', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } }], InstancesRevision: 7 }
      : { ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:x', Name: 'x', SecretString: '{"a":1}', VersionId: 'v1' };
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const config = {
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      disableHostPrefix: true,
    };
    const discovered = await new aws.ServiceDiscoveryClient(config).send(new aws.DiscoverInstancesCommand({ NamespaceName: 'ns', ServiceName: 'svc' }));
    expect(discovered.Instances?.[0]).toMatchObject({ InstanceId: 'i-1', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } });
    expect(discovered.InstancesRevision).toBe(7);
    const secret = await new aws.SecretsManagerClient(config).send(new aws.GetSecretValueCommand({ SecretId: 'x' }));
    expect(secret.SecretString).toBe('{"a":1}');
    expect(seen).toEqual(['Route53AutoNaming_v20170314.DiscoverInstances', 'secretsmanager.GetSecretValue']);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('the bundle holds no zod: contract documents are checked against descriptions built in', () => {
  const text = readFileSync(bundle, 'utf8');
  expect(text).not.toMatch(/node_modules\/zod\//);
  expect(text).toMatch(/define_WEFT_CONTRACT_DESCRIPTIONS/);
});

/** A config for the bundle tests, as plain JSON. */
function clientConfig(): Record<string, unknown> {
  return JSON.parse(
    serializeNodeConfig(
      sealNodeConfig(
        nodeBody({
          name: 'client',
          services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
          clusters: [staticCluster('orders:8080', [8081])],
        }),
      ),
    ),
  ) as Record<string, unknown>;
}

/** What parseNodeConfig throws for `config`. */
function refusal(config: unknown): ContractError {
  try {
    parseNodeConfig(config);
  } catch (err) {
    return err as ContractError;
  }
  throw new Error('expected parseNodeConfig to refuse the config');
}

/** Starts the bundle on `config`, which must fail the start; returns its `sidecar_start_failed` log line. */
async function failedStart(config: unknown): Promise<{ code: string; issues: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bundle-'));
  const ports = (await freePorts(3)).map(String);
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const run = spawnSync(process.execPath, [bundle, 'proxy', '--config', join(dir, 'config.json'), '--egress-port', ports[0], '--inbound-port', ports[1], '--admin-port', ports[2], '--listen-address', '127.0.0.1', '--metrics', 'none'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    const failure = `${run.stdout}${run.stderr}`.split('\n').find((l) => l.includes('sidecar_start_failed'));
    expect(failure).toBeDefined();
    return JSON.parse(failure!) as { code: string; issues: unknown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the bundle refuses a bad node config with the issues weft validate reports', async () => {
  const config = clientConfig() as { outbound: { services: { listeners: { routes: Record<string, unknown>[] }[] }[] }; clusters: Record<string, unknown>[] };
  const route = config.outbound.services[0].listeners[0].routes[0];
  route.retries = 'often';
  route.unexpected = true;
  config.clusters[0].connectTimeoutMs = -5;
  const expected = refusal(config).issues;
  expect(expected).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'clusters[0].connectTimeoutMs' })]));
  expect((await failedStart(config)).issues).toEqual(expected);
});

test('the bundle refuses a config of a newer schema version as parseNodeConfig does: unsupported, not unknown fields', async () => {
  const config = { ...clientConfig(), schema: nodeConfigSchemaId(NODE_CONFIG_VERSION + 1), telemetry: { tracing: { sampling: 0.1 } } };
  const expected = refusal(config);
  expect(expected.code).toBe('WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED');
  expect(await failedStart(config)).toMatchObject({ code: expected.code, issues: expected.issues });
});

test('the bundle loads its config from S3 via AWS_ENDPOINT_URL and forwards requests', async () => {
  expect(existsSync(bundle)).toBe(true); // `npm test` builds it first
  upstream = await startUpstream('orders');
  const config = sealNodeConfig({
    ...nodeBody({
      name: 'client',
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 })] }] }],
      clusters: [staticCluster('orders:8080', [upstream.port])],
    }),
  });
  const body = serializeNodeConfig(config);
  s3 = createServer((req, res) => {
    s3Requests.push(req);
    if (req.url?.split('?')[0] !== '/weft-config/demo/nodes/client.json') {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: `"${config.version}"`, 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => s3.listen(0, '127.0.0.1', r));
  const [egressPort, inboundPort, adminPort] = await freePorts(3);
  child = spawn(
    process.execPath,
    [bundle, 'proxy', '--config', 's3://weft-config/demo/nodes/client.json', '--egress-port', String(egressPort), '--inbound-port', String(inboundPort),
      '--admin-port', String(adminPort), '--listen-address', '127.0.0.1', '--metrics', 'none', '--log-level', 'warn'],
    {
      env: {
        PATH: process.env.PATH,
        AWS_ENDPOINT_URL: `http://127.0.0.1:${(s3.address() as { port: number }).port}`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await eventually(async () => {
    try {
      return (await get(egressPort, '/ready', { host: 'orders.demo.local:8080' })).status === 200;
    } catch {
      return false;
    }
  }, `the bundled sidecar to serve (stderr: ${stderr})`);
  const res = await get(egressPort, '/hello', { host: 'orders.demo.local:8080' });
  expect(res.status).toBe(200);
  expect(res.json()).toMatchObject({ name: 'orders', url: '/hello' });
  // The GetObject went to the stand-in, path-style and signed.
  expect(s3Requests[0].url).toMatch(/^\/weft-config\/demo\/nodes\/client\.json/);
  expect(s3Requests[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request/);
}, 30_000);
