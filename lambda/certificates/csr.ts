/** A node's key pair and certificate signing request, made fresh for every issuance. */
import { WeftLambdaError } from '../shared/errors';
import { parseCertificate, webcrypto, x509, type CryptoKeyPair } from './x509';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyAndCsr {
  /** PKCS#8 PEM, as the certificate secret stores it. */
  privateKeyPem: string;
  csrPem: string;
}

/** X.520's upper bound on a common name (RFC 5280 ub-common-name); Private CA refuses longer ones. */
export const MAX_COMMON_NAME = 64;

/**
 * Generates an EC P-256 key and a CSR for `spiffeId` (URI SAN) with the node name as CN. Node
 * names may have 255 characters, a CN only 64: the CN is cut there, which is harmless because
 * peers authenticate the SPIFFE id in the SAN, never the CN.
 */
export async function generateKeyAndCsr(spiffeId: string, commonName: string): Promise<KeyAndCsr> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName.slice(0, MAX_COMMON_NAME)] }],
    keys,
    signingAlgorithm: SIGN,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), csrPem: csr.toString('pem') };
}

/** Parses and verifies a CSR (its signature proves the requester holds the key). */
export async function readCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new WeftLambdaError('WEFT_ERR_CERT_INVALID', `not a PKCS#10 CSR: ${(err as Error).message}`, { cause: err });
  }
  if (!(await csr.verify())) throw new WeftLambdaError('WEFT_ERR_CERT_INVALID', 'CSR signature does not verify');
  return csr;
}

/** The URI SANs of a certificate. */
export function uriSans(certificatePem: string): string[] {
  const cert = parseCertificate(certificatePem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
}
