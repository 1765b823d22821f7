/**
 * The port between certificate sync and a certificate authority. AWS Private CA implements it in
 * lambda/aws/pca.ts; the local CA of `weft up` and of the tests implements it in local-ca.ts.
 */
export interface IssuedCertificate {
  /** The leaf certificate. */
  certificatePem: string;
  /** Intermediates up to, not including, the root; empty when the root signed the leaf. */
  chainPem: string;
}

export interface CertificateAuthority {
  /**
   * Signs `csrPem` for `validityDays`, with `spiffeId` as the certificate's only URI SAN. The
   * authority, not the CSR, decides the SAN, so a node cannot ask for another node's identity.
   */
  issue(csrPem: string, spiffeId: string, validityDays: number): Promise<IssuedCertificate>;
  /** The root certificate(s) peers must trust, as PEM: the mesh trust bundle. */
  caCertificatePem(): Promise<string>;
}
