import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { ListenerTlsSchema } from './model/schema';
import { compact } from './private/model-shapes';
import type { TlsCertificate } from './tls-certificate';
import type { MutualTlsValidation } from './tls-validation';

type ListenerTrust = NonNullable<z.infer<typeof ListenerTlsSchema>['validation']>['trust'];

/** TLS modes of a listener. */
export enum TlsMode {
  /** Only TLS. */
  STRICT = 'STRICT',
  /** TLS and plaintext. */
  PERMISSIVE = 'PERMISSIVE',
  /** Plaintext only. */
  DISABLED = 'DISABLED',
}

/** TLS of a listener. */
export interface ListenerTlsOptions {
  /** The listener's certificate. */
  readonly certificate: TlsCertificate;
  /** The TLS mode. */
  readonly mode: TlsMode;
  /**
   * Verification of client certificates (mutual TLS).
   * @default - client certificates are not required
   */
  readonly mutualTlsValidation?: MutualTlsValidation;
}

export function renderListenerTls(scope: Construct, tls: ListenerTlsOptions | undefined): z.infer<typeof ListenerTlsSchema> | undefined {
  if (!tls) return undefined;
  const validation = tls.mutualTlsValidation;
  return compact({
    mode: tls.mode,
    certificate: tls.certificate.bind(scope).tlsCertificate,
    validation: validation
      ? {
          subjectAlternativeNames: validation.subjectAlternativeNames ? { match: validation.subjectAlternativeNames.bind(scope).subjectAlternativeNamesMatch } : undefined,
          // MutualTlsValidationTrust only has file and SDS forms, the ones a listener accepts.
          trust: validation.trust.bind(scope).tlsValidationTrust as ListenerTrust,
        }
      : undefined,
  });
}
