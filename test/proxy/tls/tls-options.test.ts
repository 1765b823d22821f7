import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { noCertificates } from '../../../proxy/tls/certificate-provider';
import { clientConnectOptions, identityCheck, resolveClientTls, type ClientTlsOptions } from '../../../proxy/tls/tls-options';

let dir: string;
let peer: PeerCertificate;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-tls-options-'));
  execFileSync('openssl', [
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=other.example',
    '-addext', 'subjectAltName=DNS:other.example',
  ], { stdio: 'pipe' });
  peer = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).toLegacyObject() as unknown as PeerCertificate;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('SIMPLE TLS on the public roots without listed SANs still checks the host name', async () => {
  const opts = await resolveClientTls({ mode: 'SIMPLE', subjectAlternativeNames: [] }, noCertificates, 'clusters[0].tls');
  // Any publicly trusted certificate would verify; only the name check stops another site's one.
  expect(opts!.checkServerIdentity('api.example', peer)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  expect(opts!.checkServerIdentity('other.example', peer)).toBeUndefined();
});

test('listed SANs decide instead of the host name; a custom trust without SANs accepts what it verifies', async () => {
  const listed = await resolveClientTls({ mode: 'SIMPLE', subjectAlternativeNames: ['other.example'] }, noCertificates, 'clusters[0].tls');
  expect(listed!.checkServerIdentity('10.0.0.1', peer)).toBeUndefined();
  const wrong = await resolveClientTls({ mode: 'SIMPLE', subjectAlternativeNames: ['spiffe://weft.test/ns/demo/sa/a'] }, noCertificates, 'clusters[0].tls');
  expect(wrong!.checkServerIdentity('other.example', peer)).toMatchObject({ code: 'WEFT_ERR_PEER_IDENTITY_REJECTED' });
  const fileTrust = await resolveClientTls(
    { mode: 'SIMPLE', subjectAlternativeNames: [], trust: { file: { certificateChain: join(dir, 'cert.pem') } } },
    noCertificates,
    'clusters[0].tls',
  );
  expect(fileTrust!.ca).toContain('BEGIN CERTIFICATE');
  expect(fileTrust!.checkServerIdentity('10.0.0.1', peer)).toBeUndefined();
});

test('a cluster\'s connections share one secure context; other TLS options get their own', () => {
  const identity = identityCheck(['spiffe://demo/ns/mesh/sa/orders']);
  const a: ClientTlsOptions = { rejectUnauthorized: true, checkServerIdentity: identity, servername: 'orders' };
  const b: ClientTlsOptions = { rejectUnauthorized: true, checkServerIdentity: identity };
  const first = clientConnectOptions(a);
  expect(clientConnectOptions(a).secureContext).toBe(first.secureContext);
  expect(clientConnectOptions(b).secureContext).not.toBe(first.secureContext);
  // The PEM texts travel inside the context, not beside it; the identity check and SNI stay.
  expect(first).toMatchObject({ servername: 'orders', rejectUnauthorized: true, checkServerIdentity: identity });
  expect('key' in first || 'cert' in first || 'ca' in first).toBe(false);
});
