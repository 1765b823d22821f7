/** Test PKI made with the openssl CLI: CAs and SPIFFE leaf certificates in certificate directories. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto, x509 } from '../../../lambda/certificates/x509';

export class TestPki {
  readonly root = mkdtempSync(join(tmpdir(), 'weft-pki-'));

  /** Creates a self-signed EC P-256 CA; returns its directory. */
  ca(name: string): string {
    const dir = join(this.root, name);
    mkdirSync(dir);
    execFileSync('openssl', [
      'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ], { stdio: 'pipe' });
    return dir;
  }

  /**
   * Issues a leaf with URI SAN `spiffeId` from `caDir` and lays it out as a certificate source
   * directory (key.pem, cert.pem, chain.pem, trust-bundle.pem) trusting `trustDir`'s CA.
   */
  leaf(name: string, spiffeId: string, caDir: string, trustDir = caDir): string {
    const dir = join(this.root, name);
    mkdirSync(dir);
    const ext = join(dir, 'ext.cnf');
    writeFileSync(ext, `subjectAltName=URI:${spiffeId}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`);
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'leaf.csr'), '-subj', `/CN=${name}`], { stdio: 'pipe' });
    execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', join(caDir, 'ca.pem'), '-CAkey', join(caDir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'cert.pem'), '-days', '1', '-extfile', ext], { stdio: 'pipe' });
    writeFileSync(join(dir, 'chain.pem'), '');
    writeFileSync(join(dir, 'trust-bundle.pem'), readFileSync(join(trustDir, 'ca.pem')));
    return dir;
  }

  read(dir: string, file: string): string {
    return readFileSync(join(dir, file), 'utf8');
  }

  /** A key and a self-signed certificate naming `spiffeId` that expired yesterday (PEM). */
  async expired(spiffeId: string): Promise<{ keyPem: string; certPem: string }> {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const day = 86_400_000;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '04',
      name: 'CN=expired',
      notBefore: new Date(Date.now() - 3 * day),
      notAfter: new Date(Date.now() - day),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
    });
    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    return { keyPem, certPem: cert.toString('pem') };
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
