/**
 * Certificate sync end to end, with real parts everywhere except AWS itself: the local CA behind
 * the CertificateAuthority port, the real Secrets Manager adapter and the sidecar's real secret
 * reader over an in-memory Secrets Manager with version stages, and real TLS on 127.0.0.1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  certificateSecretName,
  NODE_CONFIG_VERSION,
  nodeConfigKey,
  nodeConfigSchemaId,
  parseCertificateSecret,
  serializeNodeConfig,
  taskRegistryKey,
  trustBundleKey,
  type CertificateSecret,
} from '../../../proxy/contracts';
import { createSecretReader } from '../../../proxy/tls/secret-reader';
import { createSecretStore } from '../../../lambda/aws/secrets';
import type { CertificateAuthority } from '../../../lambda/certificates/ca-port';
import { uriSans } from '../../../lambda/certificates/csr';
import { createLocalCa } from '../../../lambda/certificates/local-ca';
import { makeHandler } from '../../../lambda/certificates/handler';
import { runCertificateSync, type CertificateSyncDeps } from '../../../lambda/certificates/sync';
import { FakeSecretsManager } from '../fake-secrets-manager';
import { MemoryObjectStore, PrefixScopedObjectStore } from '../fakes';
import { entry, memoryLogger, MESH, nodeConfig, registry, TRUST_DOMAIN } from '../fixtures';
import { mutualTls } from './mtls';

const BUCKET = 'weft-config';
const DAY = 86_400_000;
const ORDERS = `spiffe://${TRUST_DOMAIN}/ns/${MESH}/sa/orders`;
const PAYMENTS = `spiffe://${TRUST_DOMAIN}/ns/${MESH}/sa/payments`;

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'weft-cert-sync-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(clock: { now: number }, ca?: CertificateAuthority) {
  const store = new MemoryObjectStore();
  for (const node of ['orders', 'payments']) void store.put(BUCKET, nodeConfigKey(MESH, node), serializeNodeConfig(nodeConfig(node)), { contentType: 'application/json' });
  // A registry node without a published config yet still gets a certificate.
  void store.put(BUCKET, taskRegistryKey(MESH), JSON.stringify(registry({ orders: entry('orders', 'srv-o'), audit: entry('audit', 'srv-a') })), { contentType: 'application/json' });
  // Garbage under nodes/ is reported, not fatal.
  void store.put(BUCKET, nodeConfigKey(MESH, 'broken'), '{"schema":"nope"}', { contentType: 'application/json' });
  // So is a config of a schema version newer than this release reads (a deploy rolling out).
  const future = { ...nodeConfig('future'), schema: nodeConfigSchemaId(NODE_CONFIG_VERSION + 1) };
  void store.put(BUCKET, nodeConfigKey(MESH, 'future'), JSON.stringify(future), { contentType: 'application/json' });
  const sm = new FakeSecretsManager();
  const logger = memoryLogger();
  const deps: CertificateSyncDeps = {
    mesh: MESH,
    bucket: BUCKET,
    trustDomain: TRUST_DOMAIN,
    validityDays: 7,
    store,
    secrets: createSecretStore(sm.client, { kmsKeyId: 'alias/weft-certs' }),
    ca: ca ?? createLocalCa({ dir, now: () => new Date(clock.now) }),
    logger,
    now: () => new Date(clock.now),
  };
  return { store, sm, logger, deps };
}

async function readSecret(sm: FakeSecretsManager, node: string): Promise<CertificateSecret> {
  const out = await createSecretStore(sm.client).get(certificateSecretName(MESH, node), 'AWSCURRENT');
  return parseCertificateSecret(out!.value);
}

describe('certificate sync', () => {
  test('issues a certificate per node whose URI SAN is its SPIFFE id, and two nodes complete mutual TLS', async () => {
    const clock = { now: Date.now() };
    const { sm, store, deps, logger } = setup(clock);
    const summary = await runCertificateSync(deps);
    expect(summary).toMatchObject({ nodes: 3, issued: ['audit', 'orders', 'payments'], renewed: [], kept: 0, failed: [], skippedConfigs: [nodeConfigKey(MESH, 'broken'), nodeConfigKey(MESH, 'future')], trustBundlePublished: true });
    expect(logger.lines.filter((l) => l.event === 'node-config-skipped').map((l) => l.fields)).toEqual([
      { key: nodeConfigKey(MESH, 'broken'), code: 'WEFT_ERR_NODE_CONFIG_INVALID' },
      { key: nodeConfigKey(MESH, 'future'), code: 'WEFT_ERR_CONFIG_SCHEMA_UNSUPPORTED' },
    ]);
    expect(sm.secrets.get(certificateSecretName(MESH, 'orders'))?.kmsKeyId).toBe('alias/weft-certs');

    const orders = await readSecret(sm, 'orders');
    const payments = await readSecret(sm, 'payments');
    expect(uriSans(orders.certificatePem)).toEqual([ORDERS]);
    expect(uriSans((await readSecret(sm, 'audit')).certificatePem)).toEqual([`spiffe://${TRUST_DOMAIN}/ns/${MESH}/sa/audit`]);
    expect(new Date(orders.notAfter).getTime() - new Date(orders.notBefore).getTime()).toBe(7 * DAY + 60_000);
    expect((await store.get(BUCKET, trustBundleKey(MESH)) as { body: string }).body).toBe(orders.trustBundlePem);

    const tls = await mutualTls(payments, orders, PAYMENTS);
    expect(tls).toEqual({ reply: 'ok', serverSawClient: `URI:${ORDERS}`, clientSawServer: `URI:${PAYMENTS}` });
    expect(logger.lines.find((l) => l.event === 'run-summary')?.fields).toMatchObject({ issued: ['audit', 'orders', 'payments'] });
  });

  test('the first run works where S3 refuses a HEAD or GET of a missing key (prefix-scoped ListBucket)', async () => {
    const clock = { now: Date.now() };
    const { store: seeded, deps } = setup(clock);
    const store = new PrefixScopedObjectStore();
    for (const [k, v] of seeded.objects) if (!k.endsWith(taskRegistryKey(MESH))) store.objects.set(k, v);
    const summary = await runCertificateSync({ ...deps, store });
    expect(summary).toMatchObject({ issued: ['orders', 'payments'], failed: [], trustBundlePublished: true });
    expect(store.keys(BUCKET)).toContain(trustBundleKey(MESH));
  });

  test('a certificate from another CA is refused in the handshake', async () => {
    const clock = { now: Date.now() };
    const { sm, deps } = setup(clock);
    await runCertificateSync(deps);
    const otherDir = mkdtempSync(join(tmpdir(), 'weft-other-ca-'));
    try {
      const other = setup(clock, createLocalCa({ dir: otherDir }));
      await runCertificateSync(other.deps);
      const intruder = await readSecret(other.sm, 'orders');
      const result = await mutualTls(await readSecret(sm, 'payments'), intruder, PAYMENTS);
      expect(result.reply).toBe('');
      expect(result.serverSawClient).toBeUndefined();
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test('a second run with nothing due issues nothing and rewrites nothing', async () => {
    const clock = { now: Date.now() };
    const { sm, store, deps } = setup(clock);
    await runCertificateSync(deps);
    sm.calls.length = 0;
    store.calls.length = 0;
    clock.now += 1 * DAY;
    const summary = await runCertificateSync(deps);
    expect(summary).toMatchObject({ issued: [], renewed: [], kept: 3, trustBundlePublished: false });
    expect(sm.calls.filter((c) => !c.startsWith('GetSecretValue'))).toEqual([]);
    expect(store.calls.filter((c) => c.startsWith('put'))).toEqual([]);
  });

  test('rotation: after renewal the reader serves the new certificate and keeps the old one as previous', async () => {
    // First issuance five days ago, so the renewed certificate is valid now for the handshake.
    const clock = { now: Date.now() - 5 * DAY };
    const { sm, deps, logger } = setup(clock);
    await runCertificateSync(deps);
    const secretId = certificateSecretName(MESH, 'orders');
    const reader = createSecretReader({ client: sm.client, secretId, pollMs: 600_000 });
    const before = await reader.refresh();
    expect(before.previous).toBeUndefined();

    clock.now += 5 * DAY; // past two thirds of seven days
    const summary = await runCertificateSync(deps);
    expect(summary.renewed).toEqual(['audit', 'orders', 'payments']);
    expect(logger.lines.filter((l) => l.event === 'metrics').at(-1)?.fields).toMatchObject({ CertificatesIssued: 0, CertificatesRotated: 3, Failures: 0 });

    const after = await reader.refresh();
    expect(after.current.serial).not.toBe(before.current.serial);
    expect(after.previous?.serial).toBe(before.current.serial);
    expect(after.previous?.certificatePem).toBe(before.current.certificatePem);
    expect(uriSans(after.current.certificatePem)).toEqual([ORDERS]);

    // During the overlap both the new and the previous certificate are accepted by a peer.
    const payments = await readSecret(sm, 'payments');
    expect((await mutualTls(payments, after.current, PAYMENTS)).reply).toBe('ok');
    expect((await mutualTls(payments, after.previous!, PAYMENTS)).reply).toBe('ok');
  });

  test('a CA failure for one node does not stop the others and fails the run with a code', async () => {
    const clock = { now: Date.now() };
    const local = createLocalCa({ dir });
    const flaky: CertificateAuthority = {
      caCertificatePem: () => local.caCertificatePem(),
      issue: async (csr, id, days) => {
        if (id === PAYMENTS) throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
        return local.issue(csr, id, days);
      },
    };
    const { sm, deps, logger } = setup(clock, flaky);
    await expect(makeHandler(deps)()).rejects.toMatchObject({ code: 'WEFT_ERR_PARTIAL_FAILURE' });
    expect(sm.secrets.has(certificateSecretName(MESH, 'orders'))).toBe(true);
    expect(sm.secrets.has(certificateSecretName(MESH, 'payments'))).toBe(false);
    expect(logger.lines.find((l) => l.event === 'run-summary')?.fields.failed).toEqual([{ node: 'payments', code: 'AccessDeniedException' }]);
    expect(logger.lines.find((l) => l.event === 'metrics')?.fields).toMatchObject({ Mesh: MESH, Controller: 'certificate-sync', CertificatesIssued: 2, CertificatesRotated: 0, Failures: 1 });
  });

  test('a CA that returns a certificate for another identity is caught', async () => {
    const clock = { now: Date.now() };
    const local = createLocalCa({ dir });
    const wrong: CertificateAuthority = { caCertificatePem: () => local.caCertificatePem(), issue: (csr, _id, days) => local.issue(csr, PAYMENTS, days) };
    const { deps, logger } = setup(clock, wrong);
    await expect(runCertificateSync(deps)).rejects.toMatchObject({ code: 'WEFT_ERR_PARTIAL_FAILURE' });
    const failed = logger.lines.find((l) => l.event === 'run-summary')?.fields.failed as { node: string; code: string }[];
    expect(failed).toEqual(expect.arrayContaining([{ node: 'orders', code: 'WEFT_ERR_CERT_INVALID' }]));
  });
});
