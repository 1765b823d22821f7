import { X509Certificate } from 'node:crypto';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CERTIFICATE_SECRET_SCHEMA, type CertificateSecret } from '../../../proxy/contracts';
import { createSecretsManagerClient } from '../../../proxy/aws/clients';
import type { Logger } from '../../../proxy/log';
import { certificateProviderFor } from '../../../proxy/tls/certificate-provider';
import { SecretCertificateProvider, unionOfBundles } from '../../../proxy/tls/secret-certificate-provider';
import { mockSdk, type SdkMock } from '../aws/sdk-mock';
import { TestPki } from './test-pki';

const SECRET = 'weft/demo/orders/certificate';
const SPIFFE = 'spiffe://weft.test/ns/demo/sa/orders';
const pki = new TestPki();
let oldCa: string;
let newCa: string;
let v1: CertificateSecret;
let v2: CertificateSecret;

function secretFrom(dir: string, serial: string): CertificateSecret {
  const cert = pki.read(dir, 'cert.pem');
  const x = new X509Certificate(cert);
  return {
    schema: CERTIFICATE_SECRET_SCHEMA,
    spiffeId: SPIFFE,
    privateKeyPem: pki.read(dir, 'key.pem'),
    certificatePem: cert,
    chainPem: '',
    trustBundlePem: pki.read(dir, 'trust-bundle.pem'),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serial,
  };
}

class CaptureLogger implements Logger {
  readonly events: { event: string; code?: unknown }[] = [];
  log(_level: string, event: string, fields: Record<string, unknown> = {}): void {
    this.events.push({ event, code: fields.code });
  }
}

beforeAll(() => {
  oldCa = pki.ca('old-ca');
  newCa = pki.ca('new-ca');
  v1 = secretFrom(pki.leaf('v1', SPIFFE, oldCa), '01');
  v2 = secretFrom(pki.leaf('v2', SPIFFE, newCa), '02');
});
afterAll(() => pki.remove());

/** Stages the mock: `current` under AWSCURRENT, `previous` under AWSPREVIOUS (absent: not found). */
function stage(sm: SdkMock, current: { s: CertificateSecret | string; version: string }, previous?: CertificateSecret): void {
  sm.reset();
  const text = (s: CertificateSecret | string): string => (typeof s === 'string' ? s : JSON.stringify(s));
  sm.on(GetSecretValueCommand, { SecretId: SECRET, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: text(current.s), VersionId: current.version });
  if (previous) sm.on(GetSecretValueCommand, { SecretId: SECRET, VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: JSON.stringify(previous), VersionId: 'prev' });
  else sm.on(GetSecretValueCommand, { SecretId: SECRET, VersionStage: 'AWSPREVIOUS' }).rejects(Object.assign(new Error('no previous'), { name: 'ResourceNotFoundException' }));
}

function setup(): { provider: SecretCertificateProvider; sm: SdkMock; logger: CaptureLogger; changes: () => number } {
  const client = createSecretsManagerClient({ region: 'eu-west-1', env: {} });
  const sm = mockSdk(client);
  const logger = new CaptureLogger();
  const provider = new SecretCertificateProvider({ client, secretId: SECRET, pollMs: 600_000, logger });
  let n = 0;
  provider.onChange(() => n++);
  return { provider, sm, logger, changes: () => n };
}

describe('Secrets Manager certificate source', () => {
  it('serves AWSCURRENT, hot-swaps on a new version and trusts both bundles during the overlap', async () => {
    const { provider, sm, changes } = setup();
    stage(sm, { s: v1, version: 'a' });
    await provider.start();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    expect(provider.current()!.spiffeId).toBe(SPIFFE);
    expect(provider.current()!.trustBundlePem).toBe(unionOfBundles([v1.trustBundlePem]));

    stage(sm, { s: v2, version: 'b' }, v1);
    await provider.refresh();
    expect(changes()).toBe(1);
    const cert = provider.current()!;
    expect(cert.privateKeyPem).toBe(v2.privateKeyPem);
    // Old peers still present certificates from the old CA: both roots are trusted.
    expect(cert.trustBundlePem).toContain(v1.trustBundlePem.trim());
    expect(cert.trustBundlePem).toContain(v2.trustBundlePem.trim());
    expect(cert.trustBundlePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    provider.close();
  });

  it('keeps the last good certificate when Secrets Manager fails or a version is unusable', async () => {
    const { provider, sm, logger, changes } = setup();
    stage(sm, { s: v1, version: 'a' });
    await provider.start();
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('endpoint down'), { name: 'InternalServiceError' }));
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);

    // A version whose key does not match its certificate.
    stage(sm, { s: { ...v2, privateKeyPem: v1.privateKeyPem }, version: 'c' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    stage(sm, { s: '{"not":"a certificate secret"}', version: 'd' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    expect(changes()).toBe(0);
    expect(logger.events.map((e) => e.code)).toEqual(expect.arrayContaining(['InternalServiceError', 'WEFT_ERR_CERTIFICATE_UNREADABLE', 'WEFT_ERR_CERTIFICATE_INVALID']));
    provider.close();
  });

  it("keeps its identity: a version carrying another node's certificate is rejected", async () => {
    const other = secretFrom(pki.leaf('other-node', 'spiffe://weft.test/ns/demo/sa/payments', newCa), '03');
    const { provider, sm, logger, changes } = setup();
    stage(sm, { s: v1, version: 'a' });
    await provider.start();
    // The whole secret is another node's (its spiffeId field included).
    stage(sm, { s: other, version: 'e' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    // The secret claims this node, but the certificate in it names another.
    stage(sm, { s: { ...other, spiffeId: SPIFFE }, version: 'f' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    expect(provider.current()!.spiffeId).toBe(SPIFFE);
    expect(changes()).toBe(0);
    expect(logger.events.filter((e) => e.event === 'certificate_rejected').map((e) => e.code)).toEqual(['WEFT_ERR_CERTIFICATE_UNREADABLE', 'WEFT_ERR_CERTIFICATE_UNREADABLE']);
    // A proper rotation of this node's certificate still goes through.
    stage(sm, { s: v2, version: 'g' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v2.certificatePem);
    provider.close();
  });

  it('never swaps in an expired certificate, and does not start with one', async () => {
    // A self-signed certificate of this node that expired yesterday.
    const { keyPem, certPem } = await pki.expired(SPIFFE);
    const cert = new X509Certificate(certPem);
    const expired: CertificateSecret = {
      ...v1,
      privateKeyPem: keyPem,
      certificatePem: certPem,
      trustBundlePem: certPem,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      serial: '04',
    };
    const { provider, sm, changes } = setup();
    stage(sm, { s: v1, version: 'a' });
    await provider.start();
    stage(sm, { s: expired, version: 'h' }, v1);
    await provider.refresh();
    expect(provider.current()!.certificateChainPem).toBe(v1.certificatePem);
    expect(changes()).toBe(0);
    provider.close();
    const fresh = setup();
    stage(fresh.sm, { s: expired, version: 'h' });
    await expect(fresh.provider.start()).rejects.toMatchObject({ code: 'WEFT_ERR_CERTIFICATE_UNREADABLE' });
  });

  it('fails to start with a coded error when no usable version exists', async () => {
    const { provider, sm } = setup();
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('Secrets Manager can’t find the specified secret.'), { name: 'ResourceNotFoundException' }));
    await expect(provider.start()).rejects.toMatchObject({ code: 'WEFT_ERR_CERTIFICATE_UNREADABLE' });
    const bad = setup();
    stage(bad.sm, { s: { ...v2, privateKeyPem: v1.privateKeyPem }, version: 'x' });
    await expect(bad.provider.start()).rejects.toMatchObject({ code: 'WEFT_ERR_CERTIFICATE_UNREADABLE' });
  });

  it('is what `--cert-source secretsmanager:<id>` builds; its client honours AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
    const { sm } = setup();
    const client = createSecretsManagerClient({ env: { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:4566' } });
    const endpoint = await client.config.endpoint!();
    expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe('http://127.0.0.1:4566');
    const provider = certificateProviderFor(`secretsmanager:${SECRET}`, new CaptureLogger(), { secretsClient: client, pollMs: 1_000 });
    expect(provider).toBeInstanceOf(SecretCertificateProvider);
    const mocked = mockSdk(client);
    stage(mocked, { s: v1, version: 'a' });
    await provider.start();
    expect(provider.current()!.spiffeId).toBe(SPIFFE);
    provider.close();
    sm.reset();
    expect(() => certificateProviderFor('secretsmanager:', new CaptureLogger())).toThrow(expect.objectContaining({ code: 'WEFT_ERR_CERT_SOURCE_INVALID' }));
  });
});
