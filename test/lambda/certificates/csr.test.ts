import { generateKeyAndCsr, MAX_COMMON_NAME, readCsr } from '../../../lambda/certificates/csr';
import type { x509 } from '../../../lambda/certificates/x509';

// The SAN extension by OID: a CSR's extensions come from its extension-request attribute.
const sanOf = (csr: x509.Pkcs10CertificateRequest) => csr.extensions.find((e) => e.type === '2.5.29.17') as x509.SubjectAlternativeNameExtension | undefined;

describe('key and CSR', () => {
  test('a verifiable CSR with the SPIFFE id as its only URI SAN and the node name as CN', async () => {
    const id = 'spiffe://shop.local/ns/shop/sa/orders';
    const { csrPem, privateKeyPem } = await generateKeyAndCsr(id, 'orders');
    const csr = await readCsr(csrPem);
    expect(csr.subject).toBe('CN=orders');
    const san = sanOf(csr);
    expect(san?.names.items.map((n) => [n.type, n.value])).toEqual([['url', id]]);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  test('a node name longer than a common name may be (255 vs 64) still gives a CSR a CA accepts, SAN intact', async () => {
    const node = `n${'x'.repeat(199)}`;
    const id = `spiffe://shop.local/ns/shop/sa/${node}`;
    const csr = await readCsr((await generateKeyAndCsr(id, node)).csrPem);
    const cn = csr.subjectName.getField('CN');
    expect(cn).toHaveLength(1);
    expect(cn[0].length).toBeLessThanOrEqual(MAX_COMMON_NAME);
    expect(node.startsWith(cn[0])).toBe(true);
    expect(sanOf(csr)?.names.items.map((n) => n.value)).toEqual([id]);
  });
});
