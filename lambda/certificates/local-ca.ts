/**
 * A certificate authority for local mode and tests, behind the same port as AWS Private CA. The
 * root is generated on first use and kept in a directory, so every `weft up` of a mesh shares one
 * trust bundle and restarted sidecars still trust each other.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CertificateAuthority, IssuedCertificate } from './ca-port';
import { readCsr } from './csr';
import { webcrypto, x509, type CryptoKey, type CryptoKeyPair } from './x509';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const ROOT_KEY_FILE = 'ca-key.pem';
const ROOT_CERT_FILE = 'ca-cert.pem';
/** Leaves start a minute in the past so small clock differences between nodes do not reject them. */
const BACKDATE_MS = 60_000;

export interface LocalCaOptions {
  /** Where the root key and certificate are kept (created if missing). */
  dir: string;
  /** Root subject common name. */
  name?: string;
  /** Root lifetime; default 10 years. */
  rootValidityDays?: number;
  now?: () => Date;
}

interface Root {
  cert: x509.X509Certificate;
  key: CryptoKey;
  pem: string;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Creates the local CA. Nothing touches the disk until the first `issue` or `caCertificatePem`. */
export function createLocalCa(options: LocalCaOptions): CertificateAuthority {
  const now = options.now ?? (() => new Date());
  let root: Promise<Root> | undefined;

  async function load(): Promise<Root | undefined> {
    try {
      const [keyPem, certPem] = await Promise.all([readFile(join(options.dir, ROOT_KEY_FILE), 'utf8'), readFile(join(options.dir, ROOT_CERT_FILE), 'utf8')]);
      const key = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), EC_P256, false, ['sign']);
      return { cert: new x509.X509Certificate(certPem), key, pem: certPem };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async function create(): Promise<Root> {
    const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date(now().getTime() - BACKDATE_MS);
    const name = `CN=${options.name ?? 'Weft local mesh CA'}`;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name,
      notBefore,
      notAfter: new Date(notBefore.getTime() + (options.rootValidityDays ?? 3650) * 86_400_000),
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pem = cert.toString('pem');
    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    // Write to temporary names and rename, so a crash never leaves a key without its certificate.
    await writeFile(join(options.dir, `${ROOT_KEY_FILE}.tmp`), keyPem, { mode: 0o600 });
    await writeFile(join(options.dir, `${ROOT_CERT_FILE}.tmp`), pem);
    await rename(join(options.dir, `${ROOT_KEY_FILE}.tmp`), join(options.dir, ROOT_KEY_FILE));
    await rename(join(options.dir, `${ROOT_CERT_FILE}.tmp`), join(options.dir, ROOT_CERT_FILE));
    return { cert, key: keys.privateKey, pem };
  }

  function getRoot(): Promise<Root> {
    root ??= load().then((r) => r ?? create());
    root.catch(() => (root = undefined));
    return root;
  }

  return {
    async issue(csrPem: string, spiffeId: string, validityDays: number): Promise<IssuedCertificate> {
      const ca = await getRoot();
      const csr = await readCsr(csrPem);
      const notBefore = new Date(now().getTime() - BACKDATE_MS);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialNumber(),
        subject: csr.subject,
        issuer: ca.cert.subject,
        notBefore,
        notAfter: new Date(now().getTime() + validityDays * 86_400_000),
        publicKey: csr.publicKey,
        signingKey: ca.key,
        signingAlgorithm: SIGN,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          // The SAN comes from the caller, never from the CSR: the identity is the CA's decision.
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
          await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
          await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        ],
      });
      return { certificatePem: cert.toString('pem') + '\n', chainPem: '' };
    },
    async caCertificatePem(): Promise<string> {
      const ca = await getRoot();
      return ca.pem.endsWith('\n') ? ca.pem : `${ca.pem}\n`;
    },
  };
}
