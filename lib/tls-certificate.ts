import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type { Construct } from 'constructs';

/** The mesh model's listener certificate. */
export type TlsCertificateSpec =
  | { acm: { certificateArn: string } }
  | { file: { certificateChain: string; privateKey: string } }
  | { sds: { secretName: string } };

/** What {@link TlsCertificate.bind} returns. */
export interface TlsCertificateConfig {
  /** The model's certificate. */
  readonly tlsCertificate: TlsCertificateSpec;
}

/**
 * The secret name that stands for the node's own mesh identity (its Private CA certificate from
 * the node's Secrets Manager secret, kept fresh by certificate sync). It plays the role that a
 * SPIRE SDS secret played for App Mesh's Envoy.
 */
export const MESH_IDENTITY_SECRET = 'weft-mesh-identity';

/** A TLS certificate for a listener or, when it is a {@link MutualTlsCertificate}, a client. */
export abstract class TlsCertificate {
  /** Certificate chain and private key from files in the sidecar container. */
  static file(certificateChainPath: string, privateKeyPath: string): MutualTlsCertificate {
    return new FileCertificate(certificateChainPath, privateKeyPath);
  }
  /** An ACM certificate (listener only). */
  static acm(certificate: acm.ICertificate): TlsCertificate {
    return new (class extends TlsCertificate {
      bind(_scope: Construct): TlsCertificateConfig {
        return { tlsCertificate: { acm: { certificateArn: certificate.certificateArn } } };
      }
    })();
  }
  /** A certificate by SDS secret name. */
  static sds(secretName: string): MutualTlsCertificate {
    return new SdsCertificate(secretName);
  }
  /** Weft: the node's mesh identity (SPIFFE certificate issued by the mesh's Private CA). */
  static meshIdentity(): MutualTlsCertificate {
    return new SdsCertificate(MESH_IDENTITY_SECRET);
  }
  /** Renders the certificate. */
  abstract bind(scope: Construct): TlsCertificateConfig;
}

/** A certificate that may also be presented by a client (mutual TLS). */
export abstract class MutualTlsCertificate extends TlsCertificate {
  protected readonly differentiator = false;
}

class FileCertificate extends MutualTlsCertificate {
  constructor(
    private readonly certificateChain: string,
    private readonly privateKey: string,
  ) {
    super();
  }
  bind(_scope: Construct): TlsCertificateConfig {
    return { tlsCertificate: { file: { certificateChain: this.certificateChain, privateKey: this.privateKey } } };
  }
}

class SdsCertificate extends MutualTlsCertificate {
  constructor(private readonly secretName: string) {
    super();
  }
  bind(_scope: Construct): TlsCertificateConfig {
    return { tlsCertificate: { sds: { secretName: this.secretName } } };
  }
}
