/**
 * Certificate sync Lambda: run on a schedule (e.g. hourly, well inside the renewal window of a
 * 7-day certificate) and after config publish. Entry point for esbuild: `handler`.
 */
import { defaultTrustDomain } from '../../proxy/contracts';
import { createPcaAuthority } from '../aws/pca';
import { createS3Store } from '../aws/s3';
import { createSecretStore } from '../aws/secrets';
import { intEnv, optionalEnv, requireEnv } from '../shared/env';
import { WeftLambdaError } from '../shared/errors';
import { jsonLogger } from '../shared/log';
import type { SigningAlgorithm } from '@aws-sdk/client-acm-pca';
import { createLocalCa } from './local-ca';
import { runCertificateSync, type CertificateSyncDeps, type CertificateSyncSummary } from './sync';

/** Builds the handler around its dependencies (a factory is called once, on the first event). */
export function makeHandler(deps: CertificateSyncDeps | (() => CertificateSyncDeps)): (event?: unknown) => Promise<CertificateSyncSummary> {
  let resolved: CertificateSyncDeps | undefined;
  return async () => {
    resolved ??= typeof deps === 'function' ? deps() : deps;
    return runCertificateSync(resolved);
  };
}

/**
 * Dependencies from the environment: WEFT_CONFIG_BUCKET, WEFT_MESH, WEFT_CA_ARN (or
 * WEFT_LOCAL_CA_DIR for local mode), optional WEFT_TRUST_DOMAIN, WEFT_CERT_VALIDITY_DAYS (7),
 * WEFT_SECRETS_KMS_KEY_ID, WEFT_PCA_SIGNING_ALGORITHM (SHA256WITHECDSA).
 */
export function defaultDeps(env: NodeJS.ProcessEnv = process.env): () => CertificateSyncDeps {
  return () => {
    const mesh = requireEnv(env, 'WEFT_MESH');
    const caArn = optionalEnv(env, 'WEFT_CA_ARN');
    const localDir = optionalEnv(env, 'WEFT_LOCAL_CA_DIR');
    if (!caArn && !localDir) throw new WeftLambdaError('WEFT_ERR_ENV_INVALID', 'set WEFT_CA_ARN (Private CA) or WEFT_LOCAL_CA_DIR (local CA)');
    const kmsKeyId = optionalEnv(env, 'WEFT_SECRETS_KMS_KEY_ID');
    return {
      mesh,
      bucket: requireEnv(env, 'WEFT_CONFIG_BUCKET'),
      trustDomain: optionalEnv(env, 'WEFT_TRUST_DOMAIN') ?? defaultTrustDomain(mesh),
      validityDays: intEnv(env, 'WEFT_CERT_VALIDITY_DAYS', 7),
      store: createS3Store(),
      secrets: createSecretStore(undefined, { kmsKeyId, tags: { 'weft:mesh': mesh } }),
      ca: caArn
        ? createPcaAuthority({ certificateAuthorityArn: caArn, signingAlgorithm: (optionalEnv(env, 'WEFT_PCA_SIGNING_ALGORITHM') ?? 'SHA256WITHECDSA') as SigningAlgorithm })
        : createLocalCa({ dir: localDir as string }),
      logger: jsonLogger('certificate-sync'),
    };
  };
}

export const handler = makeHandler(defaultDeps());
