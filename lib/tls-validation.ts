import type * as acmpca from 'aws-cdk-lib/aws-acmpca';
import type { Construct } from 'constructs';
import { MESH_IDENTITY_SECRET } from './tls-certificate';

/** The mesh model's trust shapes. */
export type TlsValidationTrustSpec =
  | { acm: { certificateAuthorityArns: string[] } }
  | { file: { certificateChain: string } }
  | { sds: { secretName: string } };

interface TlsValidationCommon {
  /**
   * Subject alternative names the peer certificate must carry.
   * @default - any certificate the trust verifies is accepted
   */
  readonly subjectAlternativeNames?: SubjectAlternativeNames;
}

/** How a client verifies a server. */
export interface TlsValidation extends TlsValidationCommon {
  /** Where the trusted CA certificates come from. */
  readonly trust: TlsValidationTrust;
}

/** How a listener verifies client certificates (mutual TLS). */
export interface MutualTlsValidation extends TlsValidationCommon {
  /** Where the trusted CA certificates come from. */
  readonly trust: MutualTlsValidationTrust;
}

/** What {@link TlsValidationTrust.bind} returns. */
export interface TlsValidationTrustConfig {
  /** The model's trust. */
  readonly tlsValidationTrust: TlsValidationTrustSpec;
}

/** Where a TLS validation context's trusted CAs come from. */
export abstract class TlsValidationTrust {
  /** A PEM file of CA certificates in the sidecar container. */
  static file(certificateChain: string): MutualTlsValidationTrust {
    return new TrustOf({ file: { certificateChain } });
  }
  /** ACM Private CAs (client policies only; at most three). */
  static acm(certificateAuthorities: acmpca.ICertificateAuthority[]): TlsValidationTrust {
    if (certificateAuthorities.length < 1 || certificateAuthorities.length > 3) {
      throw new Error(`TlsValidationTrust.acm takes between 1 and 3 certificate authorities, got: ${certificateAuthorities.length}`);
    }
    return new (class extends TlsValidationTrust {
      bind(_scope: Construct): TlsValidationTrustConfig {
        return { tlsValidationTrust: { acm: { certificateAuthorityArns: certificateAuthorities.map((ca) => ca.certificateAuthorityArn) } } };
      }
    })();
  }
  /** CAs by SDS secret name. */
  static sds(secretName: string): MutualTlsValidationTrust {
    return new TrustOf({ sds: { secretName } });
  }
  /** Weft: the mesh's trust bundle (every CA the mesh's Private CA setup trusts). */
  static meshTrust(): MutualTlsValidationTrust {
    return new TrustOf({ sds: { secretName: MESH_IDENTITY_SECRET } });
  }
  /** Renders the trust. */
  abstract bind(scope: Construct): TlsValidationTrustConfig;
}

/** A trust that a listener may use to verify client certificates. */
export abstract class MutualTlsValidationTrust extends TlsValidationTrust {
  protected readonly differentiator = false;
}

class TrustOf extends MutualTlsValidationTrust {
  constructor(private readonly spec: TlsValidationTrustSpec) {
    super();
  }
  bind(_scope: Construct): TlsValidationTrustConfig {
    return { tlsValidationTrust: this.spec };
  }
}

/** What {@link SubjectAlternativeNames.bind} returns. */
export interface SubjectAlternativeNamesMatcherConfig {
  /** The model's SAN matcher. */
  readonly subjectAlternativeNamesMatch: { exact: string[] };
}

/** Subject alternative names a peer certificate must carry. */
export abstract class SubjectAlternativeNames {
  /** Any of these exact names (DNS names or URIs such as SPIFFE ids). */
  static matchingExactly(...names: string[]): SubjectAlternativeNames {
    if (names.length === 0) throw new Error('SubjectAlternativeNames.matchingExactly needs at least one name, got: none');
    return new (class extends SubjectAlternativeNames {
      bind(_scope: Construct): SubjectAlternativeNamesMatcherConfig {
        return { subjectAlternativeNamesMatch: { exact: names } };
      }
    })();
  }
  /** Renders the matcher. */
  abstract bind(scope: Construct): SubjectAlternativeNamesMatcherConfig;
}
