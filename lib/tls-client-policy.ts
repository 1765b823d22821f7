import type { Construct } from 'constructs';
import type { ClientPolicyConfig } from './shared-interfaces';
import { checkPort } from './private/checks';
import { compact } from './private/model-shapes';
import type { MutualTlsCertificate } from './tls-certificate';
import type { TlsValidation } from './tls-validation';

/** TLS a sidecar originates to its backends. */
export interface TlsClientPolicy {
  /**
   * Whether the policy is enforced.
   * @default true
   */
  readonly enforce?: boolean;
  /**
   * Backend ports TLS is used on.
   * @default - all ports
   */
  readonly ports?: number[];
  /** How the server certificate is verified. */
  readonly validation: TlsValidation;
  /**
   * Client certificate presented when the server asks (mutual TLS).
   * @default - no client certificate
   */
  readonly mutualTlsCertificate?: MutualTlsCertificate;
}

export function renderClientPolicy(scope: Construct, policy: TlsClientPolicy): ClientPolicyConfig {
  policy.ports?.forEach((p) => checkPort('tlsClientPolicy.ports', p));
  const certificate = policy.mutualTlsCertificate?.bind(scope).tlsCertificate;
  if (certificate && 'acm' in certificate) throw new Error('mutualTlsCertificate must be a file or SDS certificate, got: an ACM certificate');
  return compact({
    tls: {
      enforce: policy.enforce ?? true,
      ports: policy.ports,
      certificate,
      validation: {
        subjectAlternativeNames: policy.validation.subjectAlternativeNames
          ? { match: policy.validation.subjectAlternativeNames.bind(scope).subjectAlternativeNamesMatch }
          : undefined,
        trust: policy.validation.trust.bind(scope).tlsValidationTrust,
      },
    },
  });
}
