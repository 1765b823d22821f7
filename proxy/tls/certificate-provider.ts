/**
 * Where the sidecar's mesh identity comes from: its key, certificate chain and the mesh trust
 * bundle. The file provider serves local mode and mounted secrets; a Secrets Manager provider
 * implements the same interface. Rotation is a change notification: the config store then
 * rebuilds TLS contexts and pools, so new connections use the new certificate.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CERTIFICATE_FILES } from '../contracts/mesh-layout';
import { watchDirectory, type FileWatch } from '../sources/file-watch';
import { WeftError } from '../errors';
import type { Logger } from '../log';
import { createSecretsManagerClient } from '../aws/clients';
import { SecretCertificateProvider } from './secret-certificate-provider';
import type { SecretValueClient } from './secret-reader';

export interface MeshCertificate {
  privateKeyPem: string;
  /** Leaf certificate followed by its intermediates: what a TLS endpoint presents. */
  certificateChainPem: string;
  trustBundlePem: string;
  /** The leaf's SPIFFE URI SAN, when it has one. */
  spiffeId: string | undefined;
  notAfter: Date;
}

export interface CertificateProvider {
  /** Loads the first certificate; rejects with a coded error when it cannot. */
  start(): Promise<void>;
  /** The certificate in force; undefined only for the `none` provider. */
  current(): MeshCertificate | undefined;
  /** Called after each successful rotation. */
  onChange(listener: () => void): void;
  close(): void;
}

export const CERT_SOURCE_INVALID = 'WEFT_ERR_CERT_SOURCE_INVALID';
export const CERTIFICATE_UNREADABLE = 'WEFT_ERR_CERTIFICATE_UNREADABLE';

/** Mesh identity switched off (`--cert-source none`): TLS that refers to the mesh identity fails to configure. */
export const noCertificates: CertificateProvider = {
  start: async () => {},
  current: () => undefined,
  onChange: () => {},
  close: () => {},
};

/** The URI SANs of a certificate (`URI:` entries of its subjectAltName). */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const out: string[] = [];
  for (const part of subjectAltName.split(',')) {
    const p = part.trim();
    if (p.startsWith('URI:')) out.push(p.slice(4));
  }
  return out;
}

/**
 * The certificate's end of validity; throws if it has passed. An expired certificate would fail
 * every handshake: it must never replace one that works. `what` names it in the error.
 */
export function unexpiredUntil(leaf: X509Certificate, what: string, now = Date.now()): Date {
  const notAfter = new Date(leaf.validTo);
  if (!(notAfter.getTime() > now)) throw new WeftError(CERTIFICATE_UNREADABLE, `${what} expired at ${notAfter.toISOString()}`);
  return notAfter;
}

/**
 * Refuses a rotation to another identity: a sidecar's identity never changes by rotation, and
 * another node's certificate would make every peer that expects this node refuse it.
 */
export function rotationIdentityError(current: MeshCertificate | undefined, next: MeshCertificate, where: string): WeftError | undefined {
  if (current === undefined || next.spiffeId === current.spiffeId) return undefined;
  return new WeftError(CERTIFICATE_UNREADABLE, `${where}: certificate names ${next.spiffeId ?? 'no SPIFFE id'}, but this sidecar is ${current.spiffeId}`);
}

/** Reads `key.pem`, `cert.pem`, `chain.pem` and `trust-bundle.pem` from a directory, and re-reads on change. */
export class FileCertificateProvider implements CertificateProvider {
  private cert: MeshCertificate | undefined;
  private watch: FileWatch | undefined;
  /** Reloads started so far (see reload). */
  private reads = 0;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.cert = await this.load();
    this.watch = watchDirectory(this.dir, () => void this.reload());
  }

  current(): MeshCertificate | undefined {
    return this.cert;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.watch?.close();
  }

  private async reload(): Promise<void> {
    const read = ++this.reads;
    try {
      const next = await this.load();
      // A slower read of an older set of files must not replace what a newer read found.
      if (read !== this.reads) return;
      const wrongIdentity = rotationIdentityError(this.cert, next, this.dir);
      if (wrongIdentity) throw wrongIdentity;
      if (this.cert && next.certificateChainPem === this.cert.certificateChainPem && next.trustBundlePem === this.cert.trustBundlePem) return;
      this.cert = next;
      this.logger.log('info', 'certificate_rotated', { spiffeId: next.spiffeId, notAfter: next.notAfter.toISOString() });
      for (const l of this.listeners) l();
    } catch (err) {
      // A half-written set of files is normal during rotation; the next change event retries.
      if (read !== this.reads) return;
      this.logger.log('warn', 'certificate_reload_failed', { code: (err as WeftError).code, message: (err as Error).message });
    }
  }

  private async load(): Promise<MeshCertificate> {
    const read = async (file: string, required: boolean): Promise<string> => {
      try {
        return await readFile(join(this.dir, file), 'utf8');
      } catch (err) {
        if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return '';
        throw new WeftError(CERTIFICATE_UNREADABLE, `cannot read ${join(this.dir, file)}: ${(err as Error).message}`);
      }
    };
    const [key, cert, chain, trust] = await Promise.all([
      read(CERTIFICATE_FILES.privateKey, true),
      read(CERTIFICATE_FILES.certificate, true),
      read(CERTIFICATE_FILES.chain, false),
      read(CERTIFICATE_FILES.trustBundle, true),
    ]);
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert);
    } catch (err) {
      throw new WeftError(CERTIFICATE_UNREADABLE, `${join(this.dir, CERTIFICATE_FILES.certificate)} is not a PEM certificate: ${(err as Error).message}`);
    }
    if (!leaf.checkPrivateKey(importKey(key, join(this.dir, CERTIFICATE_FILES.privateKey)))) {
      throw new WeftError(CERTIFICATE_UNREADABLE, `${join(this.dir, CERTIFICATE_FILES.privateKey)} does not match the certificate`);
    }
    const notAfter = unexpiredUntil(leaf, join(this.dir, CERTIFICATE_FILES.certificate));
    return {
      privateKeyPem: key,
      certificateChainPem: chain.trim() === '' ? cert : `${cert.trimEnd()}\n${chain}`,
      trustBundlePem: trust,
      spiffeId: uriSans(leaf.subjectAltName).find((u) => u.startsWith('spiffe://')),
      notAfter,
    };
  }
}

function importKey(pem: string, where: string) {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new WeftError(CERTIFICATE_UNREADABLE, `${where} is not a PEM private key: ${(err as Error).message}`);
  }
}

/** Options of the Secrets Manager source (from the sidecar settings). */
export interface CertificateSourceOptions {
  /** `certPollMs`. Default: 600,000. */
  pollMs?: number;
  region?: string;
  /** A Secrets Manager client to use instead of one built from the environment (tests). */
  secretsClient?: SecretValueClient;
}

/** The provider named by the `certSource` setting: `none`, `file:<dir>` or `secretsmanager:<secret id>`. */
export function certificateProviderFor(source: string, logger: Logger, opts: CertificateSourceOptions = {}): CertificateProvider {
  if (source === 'none') return noCertificates;
  if (source.startsWith('file:') && source.length > 5) return new FileCertificateProvider(source.slice(5), logger);
  if (source.startsWith('secretsmanager:') && source.length > 15) {
    return new SecretCertificateProvider({
      client: opts.secretsClient ?? createSecretsManagerClient({ region: opts.region }),
      secretId: source.slice(15),
      pollMs: opts.pollMs ?? 600_000,
      logger,
    });
  }
  throw new WeftError(CERT_SOURCE_INVALID, `certificate source must be 'none', 'file:<dir>' or 'secretsmanager:<secret id>', got: '${source}'`);
}
