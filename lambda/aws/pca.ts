/**
 * AWS Private CA behind the {@link CertificateAuthority} port. The only controller module that
 * imports the ACM PCA SDK.
 *
 * Issuance is asynchronous: IssueCertificate returns an ARN at once and GetCertificate answers
 * RequestInProgressException until the certificate exists, so `issue` polls with backoff.
 */
import { createHash } from 'node:crypto';
import {
  ACMPCAClient,
  GetCertificateAuthorityCertificateCommand,
  GetCertificateCommand,
  IssueCertificateCommand,
  type SigningAlgorithm,
} from '@aws-sdk/client-acm-pca';
import type { CertificateAuthority } from '../certificates/ca-port';
import { intermediatesOnly, rootsOnly, splitPemCertificates } from '../certificates/x509';
import { WeftLambdaError } from '../shared/errors';
import { defaultSleep, withRetry, type RetryOptions } from '../shared/retry';
import { clientOptions } from './client-config';

/** The template that lets the caller set the SAN (our SPIFFE URI) through ApiPassthrough. */
export const API_PASSTHROUGH_TEMPLATE_ARN = 'arn:aws:acm-pca:::template/EndEntityCertificate_APIPassthrough/V1';

let sharedClient: ACMPCAClient | undefined;
/** The container's Private CA client, created on first use and reused across invocations. */
export function pcaClient(): ACMPCAClient {
  sharedClient ??= new ACMPCAClient(clientOptions('acmpca'));
  return sharedClient;
}

export interface PcaOptions {
  certificateAuthorityArn: string;
  /** Must match the CA's key algorithm: SHA256WITHECDSA for an EC_prime256v1 CA. */
  signingAlgorithm?: SigningAlgorithm;
  retry?: RetryOptions;
  /** How long to keep asking for a certificate that is still being issued. Default 20 polls. */
  issuePolls?: number;
  /** Delay between polls: starts here and grows by half each time, up to 5 s. Default 200 ms. */
  issuePollDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The Private CA implementation of {@link CertificateAuthority}. */
export function createPcaAuthority(options: PcaOptions, client: ACMPCAClient = pcaClient()): CertificateAuthority {
  const caArn = options.certificateAuthorityArn;
  const retry = options.retry ?? {};
  const sleep = options.sleep ?? retry.sleep ?? defaultSleep;
  const polls = options.issuePolls ?? 20;

  async function fetchIssued(certificateArn: string): Promise<{ Certificate?: string; CertificateChain?: string }> {
    let delay = options.issuePollDelayMs ?? 200;
    for (let poll = 1; ; poll++) {
      try {
        return await withRetry('acm-pca:GetCertificate', () => client.send(new GetCertificateCommand({ CertificateAuthorityArn: caArn, CertificateArn: certificateArn })), retry);
      } catch (err) {
        if ((err as { name?: string })?.name !== 'RequestInProgressException') throw err;
        if (poll >= polls) throw new WeftLambdaError('WEFT_ERR_CERT_ISSUE_TIMEOUT', `${certificateArn} still in progress after ${poll} polls`, { cause: err });
        await sleep(delay);
        delay = Math.min(5_000, Math.ceil(delay * 1.5));
      }
    }
  }

  return {
    async issue(csrPem, spiffeId, validityDays) {
      // Same CSR, same token: a retried IssueCertificate returns the first certificate instead of
      // paying for a second one. (The token allows at most 36 characters.)
      const idempotencyToken = createHash('sha256').update(csrPem).digest('hex').slice(0, 36);
      const issued = await withRetry(
        'acm-pca:IssueCertificate',
        () =>
          client.send(
            new IssueCertificateCommand({
              CertificateAuthorityArn: caArn,
              Csr: Buffer.from(csrPem, 'utf8'),
              SigningAlgorithm: options.signingAlgorithm ?? 'SHA256WITHECDSA',
              TemplateArn: API_PASSTHROUGH_TEMPLATE_ARN,
              Validity: { Type: 'DAYS', Value: validityDays },
              ApiPassthrough: { Extensions: { SubjectAlternativeNames: [{ UniformResourceIdentifier: spiffeId }] } },
              IdempotencyToken: idempotencyToken,
            }),
          ),
        retry,
      );
      if (!issued.CertificateArn) throw new WeftLambdaError('WEFT_ERR_AWS_CALL_FAILED', 'IssueCertificate returned no CertificateArn');
      const out = await fetchIssued(issued.CertificateArn);
      if (!out.Certificate) throw new WeftLambdaError('WEFT_ERR_AWS_CALL_FAILED', `GetCertificate returned no certificate for ${issued.CertificateArn}`);
      return { certificatePem: splitPemCertificates(out.Certificate).join(''), chainPem: await intermediatesOnly(out.CertificateChain ?? '') };
    },
    async caCertificatePem() {
      const out = await withRetry(
        'acm-pca:GetCertificateAuthorityCertificate',
        () => client.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: caArn })),
        retry,
      );
      if (!out.Certificate) throw new WeftLambdaError('WEFT_ERR_AWS_CALL_FAILED', `CA ${caArn} has no certificate (not activated?)`);
      // A root CA has no chain and is its own root; a subordinate CA's chain ends at the root.
      const roots = await rootsOnly(`${out.Certificate}\n${out.CertificateChain ?? ''}`);
      return roots || splitPemCertificates(out.Certificate).join('');
    },
  };
}
