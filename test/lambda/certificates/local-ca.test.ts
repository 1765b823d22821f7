import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyAndCsr, uriSans } from '../../../lambda/certificates/csr';
import { createLocalCa } from '../../../lambda/certificates/local-ca';
import { x509 } from '../../../lambda/certificates/x509';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'weft-local-ca-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ORDERS = 'spiffe://shop.local/ns/shop/sa/orders';

describe('local CA', () => {
  test('creates its root on first use, persists it, and reuses it', async () => {
    expect(readdirSync(dir)).toEqual([]);
    const first = await createLocalCa({ dir }).caCertificatePem();
    expect(readdirSync(dir).sort()).toEqual(['ca-cert.pem', 'ca-key.pem']);
    expect(statSync(join(dir, 'ca-key.pem')).mode & 0o077).toBe(0);
    const again = createLocalCa({ dir });
    expect(await again.caCertificatePem()).toBe(first);
    const root = new x509.X509Certificate(first);
    expect(await root.isSelfSigned()).toBe(true);
    expect(root.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
  });

  test('signs a leaf for the given SPIFFE id with the requested lifetime, chained to the root', async () => {
    const now = new Date('2026-11-22T00:00:00Z');
    const ca = createLocalCa({ dir, now: () => now });
    const { csrPem } = await generateKeyAndCsr(ORDERS, 'orders');
    const issued = await ca.issue(csrPem, ORDERS, 7);
    expect(issued.chainPem).toBe('');
    expect(uriSans(issued.certificatePem)).toEqual([ORDERS]);
    const leaf = new x509.X509Certificate(issued.certificatePem);
    expect(leaf.notAfter.getTime() - now.getTime()).toBe(7 * 86_400_000);
    expect(leaf.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    const root = new x509.X509Certificate(await ca.caCertificatePem());
    expect(await leaf.verify({ publicKey: root.publicKey, signatureOnly: true })).toBe(true);
  });

  test('the SAN is the caller\'s, not whatever the CSR asks for', async () => {
    const ca = createLocalCa({ dir });
    const { csrPem } = await generateKeyAndCsr('spiffe://shop.local/ns/shop/sa/admin', 'admin');
    const issued = await ca.issue(csrPem, ORDERS, 1);
    expect(uriSans(issued.certificatePem)).toEqual([ORDERS]);
  });

  test('a malformed CSR is WEFT_ERR_CERT_INVALID', async () => {
    await expect(createLocalCa({ dir }).issue('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', ORDERS, 1)).rejects.toMatchObject({
      code: 'WEFT_ERR_CERT_INVALID',
    });
  });
});
