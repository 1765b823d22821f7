/**
 * `--cert-source secretsmanager:<secret id>`: the mesh identity from the node's certificate
 * secret, which certificate sync rotates. The secret reader polls `AWSCURRENT` (and fetches
 * `AWSPREVIOUS` after a change); each new version is checked (key matches certificate) and then
 * hot-swapped, so new connections use it while open ones keep theirs. Static stability: when
 * Secrets Manager is unreachable or a version is unusable, the last good certificate stays.
 * During a rotation, peers may still hold certificates from the previous trust bundle, so the
 * trust served is the union of the current and previous bundles.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { CertificateSecret } from '../contracts';
import { WeftError } from '../errors';
import type { Logger } from '../log';
import { CERTIFICATE_UNREADABLE, rotationIdentityError, unexpiredUntil, uriSans, type CertificateProvider, type MeshCertificate } from './certificate-provider';
import { createSecretReader, type CertificatePair, type SecretReader, type SecretValueClient } from './secret-reader';

export interface SecretCertificateProviderOptions {
  client: SecretValueClient;
  secretId: string;
  /** Poll interval (settings: `certPollMs`), jittered ±20%. */
  pollMs: number;
  logger: Logger;
}

export class SecretCertificateProvider implements CertificateProvider {
  private cert: MeshCertificate | undefined;
  private appliedVersion: string | undefined;
  private lastError: Error | undefined;
  private readonly listeners: (() => void)[] = [];
  private readonly reader: SecretReader;

  constructor(private readonly opts: SecretCertificateProviderOptions) {
    this.reader = createSecretReader({
      client: opts.client,
      secretId: opts.secretId,
      pollMs: opts.pollMs,
      onChange: (pair) => this.apply(pair),
      onError: (err) => {
        // The reader keeps the last good pair; this only reports.
        this.lastError = err as Error;
        if (this.cert) this.opts.logger.log('warn', 'certificate_poll_failed', { secretId: opts.secretId, code: codeOf(err), message: (err as Error).message });
      },
    });
  }

  /** Reads the secret once; rejects with `WEFT_ERR_CERTIFICATE_UNREADABLE` when no usable version exists. */
  async start(): Promise<void> {
    try {
      await this.reader.refresh();
    } catch (err) {
      throw new WeftError(CERTIFICATE_UNREADABLE, `certificate secret ${this.opts.secretId}: ${(err as Error).message}${codeOf(err) ? ` (${codeOf(err)})` : ''}`);
    }
    if (this.cert === undefined) {
      throw new WeftError(CERTIFICATE_UNREADABLE, `certificate secret ${this.opts.secretId}: ${this.lastError?.message ?? 'no usable version'}`);
    }
    this.reader.start();
  }

  current(): MeshCertificate | undefined {
    return this.cert;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Polls now (the timer does the same every `pollMs`). Resolves once the result is applied. */
  async refresh(): Promise<void> {
    await this.reader.refresh().catch(() => undefined);
  }

  close(): void {
    this.reader.stop();
  }

  private apply(pair: CertificatePair): void {
    if (pair.versionId === this.appliedVersion) return;
    let next: MeshCertificate;
    try {
      next = toMeshCertificate(pair.current, pair.previous, `${this.opts.secretId} (${pair.versionId || 'AWSCURRENT'})`);
    } catch (err) {
      this.lastError = err as Error;
      this.opts.logger.log(this.cert ? 'warn' : 'error', 'certificate_rejected', { secretId: this.opts.secretId, versionId: pair.versionId, code: codeOf(err), message: (err as Error).message });
      return;
    }
    const wrongIdentity = rotationIdentityError(this.cert, next, `${this.opts.secretId} (${pair.versionId})`);
    if (wrongIdentity) {
      this.lastError = wrongIdentity;
      this.opts.logger.log('warn', 'certificate_rejected', { secretId: this.opts.secretId, versionId: pair.versionId, code: CERTIFICATE_UNREADABLE, message: this.lastError.message });
      return;
    }
    this.appliedVersion = pair.versionId;
    const first = this.cert === undefined;
    const changed = first || next.certificateChainPem !== this.cert!.certificateChainPem || next.trustBundlePem !== this.cert!.trustBundlePem || next.privateKeyPem !== this.cert!.privateKeyPem;
    if (!changed) return;
    this.cert = next;
    this.opts.logger.log('info', first ? 'certificate_loaded' : 'certificate_rotated', { secretId: this.opts.secretId, versionId: pair.versionId, spiffeId: next.spiffeId, notAfter: next.notAfter.toISOString() });
    if (!first) for (const l of this.listeners) l();
  }
}

/** Checks a secret version and shapes it as the sidecar's certificate; trust is current ∪ previous. */
export function toMeshCertificate(current: CertificateSecret, previous: CertificateSecret | undefined, where: string, now = Date.now()): MeshCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(current.certificatePem);
  } catch (err) {
    throw new WeftError(CERTIFICATE_UNREADABLE, `${where}: certificatePem is not a PEM certificate: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(current.privateKeyPem));
  } catch (err) {
    throw new WeftError(CERTIFICATE_UNREADABLE, `${where}: privateKeyPem is not a PEM private key: ${(err as Error).message}`);
  }
  if (!matches) throw new WeftError(CERTIFICATE_UNREADABLE, `${where}: privateKeyPem does not match certificatePem`);
  const notAfter = unexpiredUntil(leaf, `${where}: certificatePem`, now);
  const spiffeId = uriSans(leaf.subjectAltName).find((u) => u.startsWith('spiffe://'));
  if (spiffeId !== current.spiffeId) {
    throw new WeftError(CERTIFICATE_UNREADABLE, `${where}: certificatePem names ${spiffeId ?? 'no SPIFFE id'}, but the secret's spiffeId is ${current.spiffeId}`);
  }
  return {
    privateKeyPem: current.privateKeyPem,
    certificateChainPem: current.chainPem.trim() === '' ? current.certificatePem : `${current.certificatePem.trimEnd()}\n${current.chainPem}`,
    trustBundlePem: unionOfBundles([current.trustBundlePem, previous?.trustBundlePem ?? '']),
    spiffeId,
    notAfter,
  };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every distinct certificate of the bundles, in first-seen order. */
export function unionOfBundles(bundles: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const bundle of bundles) {
    for (const block of bundle.match(PEM_BLOCK) ?? []) {
      const key = block.replace(/\s+/g, '');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(block);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; name?: unknown };
  return typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : undefined;
}
