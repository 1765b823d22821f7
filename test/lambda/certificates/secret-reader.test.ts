/**
 * The sidecar's certificate secret reader (proxy/tls/secret-reader.ts). It lives here, beside the
 * controller that writes the secrets, because both run against the same staged fake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERTIFICATE_SECRET_SCHEMA, type CertificateSecret } from '../../../proxy/contracts';
import { createSecretReader, type CertificatePair } from '../../../proxy/tls/secret-reader';
import { createSecretStore } from '../../../lambda/aws/secrets';
import { generateKeyAndCsr } from '../../../lambda/certificates/csr';
import { createLocalCa } from '../../../lambda/certificates/local-ca';
import { issueCertificateSecret } from '../../../lambda/certificates/sync';
import { FakeSecretsManager } from '../fake-secrets-manager';

const SECRET = 'weft/shop/orders/certificate';
const ID = { node: 'orders', spiffeId: 'spiffe://shop.local/ns/shop/sa/orders' };
let dir: string;
let secrets: CertificateSecret[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-reader-'));
  const ca = createLocalCa({ dir });
  const bundle = await ca.caCertificatePem();
  secrets = [await issueCertificateSecret(ca, ID, 7, bundle), await issueCertificateSecret(ca, ID, 7, bundle), await issueCertificateSecret(ca, ID, 7, bundle)];
  expect(secrets[0].schema).toBe(CERTIFICATE_SECRET_SCHEMA);
  expect((await generateKeyAndCsr(ID.spiffeId, 'orders')).privateKeyPem).toContain('BEGIN PRIVATE KEY');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function write(sm: FakeSecretsManager, s: CertificateSecret): Promise<void> {
  await createSecretStore(sm.client).put(SECRET, JSON.stringify(s), `token-${s.serial}`);
}

describe('certificate secret reader', () => {
  test('first read has no previous; a quiet poll costs one call; a rotation fetches the previous stage', async () => {
    const sm = new FakeSecretsManager();
    await write(sm, secrets[0]);
    const changes: CertificatePair[] = [];
    const reader = createSecretReader({ client: sm.client, secretId: SECRET, pollMs: 1_000, onChange: (p) => changes.push(p) });
    expect(reader.get()).toBeUndefined();
    const first = await reader.refresh();
    expect(first.current.serial).toBe(secrets[0].serial);
    expect(first.previous).toBeUndefined();

    sm.calls.length = 0;
    await reader.refresh();
    expect(sm.calls).toEqual([`GetSecretValue ${SECRET} AWSCURRENT`]);

    await write(sm, secrets[1]);
    await write(sm, secrets[2]);
    const rotated = await reader.refresh();
    expect([rotated.current.serial, rotated.previous?.serial]).toEqual([secrets[2].serial, secrets[1].serial]);
    expect(changes).toHaveLength(2);
  });

  test('keeps the last good pair through an outage and through a corrupted value', async () => {
    const sm = new FakeSecretsManager();
    await write(sm, secrets[0]);
    const errors: unknown[] = [];
    const reader = createSecretReader({ client: sm.client, secretId: SECRET, pollMs: 1_000, onError: (e) => errors.push(e) });
    await reader.refresh();
    sm.failGets = Object.assign(new Error('unreachable'), { name: 'ServiceUnavailable' });
    expect((await reader.refresh()).current.serial).toBe(secrets[0].serial);
    sm.failGets = undefined;
    sm.corruptCurrent(SECRET, '{"schema":"weft.dev/certificate/v1"}');
    expect((await reader.refresh()).current.serial).toBe(secrets[0].serial);
    expect(errors.map((e) => (e as { code?: string; name?: string }).code ?? (e as Error).name)).toEqual(['ServiceUnavailable', 'WEFT_ERR_CERTIFICATE_INVALID']);
  });

  test('with no good value ever, refresh rejects with the cause', async () => {
    const sm = new FakeSecretsManager();
    const reader = createSecretReader({ client: sm.client, secretId: SECRET, pollMs: 1_000 });
    await expect(reader.refresh()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  test('start polls until stop', async () => {
    const sm = new FakeSecretsManager();
    await write(sm, secrets[0]);
    let seen: (p: CertificatePair) => void = () => undefined;
    const reader = createSecretReader({ client: sm.client, secretId: SECRET, pollMs: 5, onChange: (p) => seen(p) });
    const firstChange = new Promise<CertificatePair>((resolve) => (seen = resolve));
    reader.start();
    expect((await firstChange).current.serial).toBe(secrets[0].serial);
    const rotation = new Promise<CertificatePair>((resolve) => (seen = resolve));
    await write(sm, secrets[1]);
    expect((await rotation).previous?.serial).toBe(secrets[0].serial);
    reader.stop();
    const calls = sm.calls.length;
    // A witness polling at the same interval: once it has polled three times, a reader that was
    // still scheduled would have polled at least once.
    const witnessSm = new FakeSecretsManager();
    await write(witnessSm, secrets[0]);
    const witness = createSecretReader({ client: witnessSm.client, secretId: SECRET, pollMs: 5 });
    const witnessPolls = (): number => witnessSm.calls.filter((c) => c.endsWith('AWSCURRENT')).length;
    witness.start();
    while (witnessPolls() < 3) await new Promise((r) => setTimeout(r, 5));
    witness.stop();
    expect(sm.calls.length).toBe(calls);
  });
});
