/**
 * One certificate sync run: publish the trust bundle, find the mesh's nodes, read their secrets,
 * plan, then issue or renew what the plan says. A failure for one node does not stop the others;
 * the run reports every failure and then fails as a whole so the Lambda's Errors metric alarms.
 */
import {
  CERTIFICATE_SECRET_SCHEMA,
  certificateSecretName,
  parseCertificateSecret,
  parseNodeConfig,
  parseTaskRegistry,
  spiffeId,
  taskRegistryKey,
  trustBundleKey,
  type CertificateSecret,
} from '../../proxy/contracts';
import { CONTENT_HASH_METADATA, sha256Hex, type ObjectStore } from '../aws/s3';
import type { SecretStore } from '../aws/secrets';
import { errorCode, WeftLambdaError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { mapLimit } from '../shared/retry';
import type { CertificateAuthority } from './ca-port';
import { generateKeyAndCsr, uriSans } from './csr';
import { planCertificates, type ExistingCertificate, type NodeIdentity } from './plan';
import { logControllerMetrics } from '../shared/metrics';
import { parseCertificate } from './x509';

export interface CertificateSyncDeps {
  mesh: string;
  bucket: string;
  /** Used for nodes that appear only in the task registry (configs carry their own SPIFFE id). */
  trustDomain: string;
  validityDays: number;
  store: ObjectStore;
  secrets: SecretStore;
  ca: CertificateAuthority;
  logger: Logger;
  now?: () => Date;
  /** Issuances in flight at once; Private CA throttles IssueCertificate per account. Default 4. */
  concurrency?: number;
}

export interface CertificateSyncSummary {
  nodes: number;
  issued: string[];
  renewed: string[];
  kept: number;
  failed: { node: string; code: string }[];
  skippedConfigs: string[];
  trustBundlePublished: boolean;
}

/** Writes the trust bundle unless S3 already holds exactly these bytes. Returns whether it wrote. */
export async function publishTrustBundle(store: ObjectStore, bucket: string, mesh: string, pem: string): Promise<boolean> {
  const key = trustBundleKey(mesh);
  const hash = sha256Hex(pem);
  // List before HEAD: without a ListBucket grant that matches the request, S3 answers a HEAD of a
  // missing key with 403, and the role's ListBucket is scoped by s3:prefix, which a HEAD lacks.
  const exists = (await store.list(bucket, key)).includes(key);
  const head = exists ? await store.head(bucket, key) : undefined;
  if (head?.metadata[CONTENT_HASH_METADATA] === hash) return false;
  await store.put(bucket, key, pem, { contentType: 'application/x-pem-file', metadata: { [CONTENT_HASH_METADATA]: hash } });
  return true;
}

/**
 * The nodes that need certificates: every published node config (its own SPIFFE id), plus
 * registry nodes without a published config yet. Unparseable configs are skipped and reported.
 */
export async function listMeshNodes(deps: Pick<CertificateSyncDeps, 'store' | 'bucket' | 'mesh' | 'trustDomain'>): Promise<{ nodes: NodeIdentity[]; skipped: { key: string; code: string }[] }> {
  const prefix = `${deps.mesh}/nodes/`;
  const keys = (await deps.store.list(deps.bucket, prefix)).filter((k) => k.endsWith('.json')).sort();
  const nodes: NodeIdentity[] = [];
  const skipped: { key: string; code: string }[] = [];
  for (const key of keys) {
    const obj = await deps.store.get(deps.bucket, key);
    if (!obj || obj === 'not-modified') continue;
    try {
      const config = parseNodeConfig(obj.body, `s3://${deps.bucket}/${key}`);
      nodes.push({ node: config.node.name, spiffeId: config.node.spiffeId });
    } catch (err) {
      // Invalid, or (while a deploy rolls out) of a schema version newer than this function reads.
      skipped.push({ key, code: errorCode(err) });
    }
  }
  const registryKey = taskRegistryKey(deps.mesh);
  const registryObject = (await deps.store.list(deps.bucket, registryKey)).includes(registryKey) ? await deps.store.get(deps.bucket, registryKey) : undefined;
  if (registryObject && registryObject !== 'not-modified') {
    const registry = parseTaskRegistry(JSON.parse(registryObject.body));
    const known = new Set(nodes.map((n) => n.node));
    for (const entry of Object.values(registry.families)) {
      if (entry.mesh !== deps.mesh || known.has(entry.node)) continue;
      known.add(entry.node);
      nodes.push({ node: entry.node, spiffeId: spiffeId(deps.trustDomain, deps.mesh, entry.node) });
    }
  }
  return { nodes, skipped };
}

async function readExisting(secrets: SecretStore, mesh: string, node: string): Promise<ExistingCertificate | null | undefined> {
  const current = await secrets.get(certificateSecretName(mesh, node), 'AWSCURRENT');
  if (!current) return undefined;
  try {
    const s = parseCertificateSecret(current.value);
    return { spiffeId: s.spiffeId, notBefore: new Date(s.notBefore), notAfter: new Date(s.notAfter), trustBundlePem: s.trustBundlePem };
  } catch {
    return null;
  }
}

/** Issues a certificate for `identity` and builds the secret value that holds it. */
export async function issueCertificateSecret(ca: CertificateAuthority, identity: NodeIdentity, validityDays: number, trustBundlePem: string): Promise<CertificateSecret> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr(identity.spiffeId, identity.node);
  const issued = await ca.issue(csrPem, identity.spiffeId, validityDays);
  const sans = uriSans(issued.certificatePem);
  if (sans.length !== 1 || sans[0] !== identity.spiffeId) {
    throw new WeftLambdaError('WEFT_ERR_CERT_INVALID', `issued certificate for ${identity.node} has URI SANs ${JSON.stringify(sans)}, expected ${identity.spiffeId}`);
  }
  const cert = parseCertificate(issued.certificatePem);
  return {
    schema: CERTIFICATE_SECRET_SCHEMA,
    spiffeId: identity.spiffeId,
    privateKeyPem,
    certificatePem: issued.certificatePem,
    chainPem: issued.chainPem,
    trustBundlePem,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    serial: cert.serialNumber,
  };
}

/** Runs certificate sync once. Throws `WEFT_ERR_PARTIAL_FAILURE` after the summary if any node failed. */
export async function runCertificateSync(deps: CertificateSyncDeps): Promise<CertificateSyncSummary> {
  const now = (deps.now ?? (() => new Date()))();
  const trustBundlePem = await deps.ca.caCertificatePem();
  const trustBundlePublished = await publishTrustBundle(deps.store, deps.bucket, deps.mesh, trustBundlePem);
  const { nodes, skipped } = await listMeshNodes(deps);
  for (const { key, code } of skipped) deps.logger.warn('node-config-skipped', { key, code });

  const existing = new Map<string, ExistingCertificate | null>();
  await mapLimit(nodes, 8, async (n) => {
    const found = await readExisting(deps.secrets, deps.mesh, n.node);
    if (found !== undefined) existing.set(n.node, found);
  });
  const plan = planCertificates(nodes, existing, now, trustBundlePem);

  const summary: CertificateSyncSummary = { nodes: nodes.length, issued: [], renewed: [], kept: plan.keep.length, failed: [], skippedConfigs: skipped.map((s) => s.key), trustBundlePublished };
  const work = [...plan.issue.map((n) => ({ ...n, kind: 'issue' as const })), ...plan.renew.map((n) => ({ ...n, kind: 'renew' as const }))];
  await mapLimit(work, deps.concurrency ?? 4, async (item) => {
    try {
      const secret = await issueCertificateSecret(deps.ca, item, deps.validityDays, trustBundlePem);
      // The serial names this value: a retried write after a lost response is not a new version.
      await deps.secrets.put(certificateSecretName(deps.mesh, item.node), JSON.stringify(secret), sha256Hex(`${secret.spiffeId}|${secret.serial}`));
      (item.kind === 'issue' ? summary.issued : summary.renewed).push(item.node);
      deps.logger.info('certificate-written', { node: item.node, action: item.kind, reason: item.reason, serial: secret.serial, notAfter: secret.notAfter });
    } catch (err) {
      summary.failed.push({ node: item.node, code: errorCode(err) });
      deps.logger.error('certificate-failed', { node: item.node, action: item.kind, code: errorCode(err), message: (err as Error).message });
    }
  });
  summary.issued.sort();
  summary.renewed.sort();
  logControllerMetrics(deps.logger, deps.mesh, 'certificate-sync', { certificatesIssued: summary.issued.length, certificatesRotated: summary.renewed.length, failures: summary.failed.length });
  deps.logger.info('run-summary', { ...summary });
  if (summary.failed.length > 0) {
    throw new WeftLambdaError('WEFT_ERR_PARTIAL_FAILURE', `${summary.failed.length} of ${work.length} certificates failed: ${summary.failed.map((f) => `${f.node} (${f.code})`).join(', ')}`);
  }
  return summary;
}
