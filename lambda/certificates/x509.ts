/**
 * X.509 for the controllers: @peculiar/x509 wired to Node's WebCrypto, and splitting and
 * classifying PEM bundles. Import x509 through this module so the provider is always set.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from '@peculiar/x509';
import { WeftLambdaError } from '../shared/errors';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
export { x509, webcrypto };
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each normalised to end with a newline. */
export function splitPemCertificates(bundle: string): string[] {
  return (bundle.match(PEM_BLOCK) ?? []).map((block) => `${block.trim()}\n`);
}

/** Parses one PEM certificate; malformed input is WEFT_ERR_CERT_INVALID. */
export function parseCertificate(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new WeftLambdaError('WEFT_ERR_CERT_INVALID', `not a PEM X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether a certificate is self-signed (a root): issuer equals subject and its own key verifies it. */
export async function isSelfSigned(pem: string): Promise<boolean> {
  const cert = parseCertificate(pem);
  return cert.subject === cert.issuer && (await cert.isSelfSigned());
}

/** A chain without its roots: what a TLS peer sends after its leaf. */
export async function intermediatesOnly(chainPem: string): Promise<string> {
  const out: string[] = [];
  for (const pem of splitPemCertificates(chainPem)) if (!(await isSelfSigned(pem))) out.push(pem);
  return out.join('');
}

/** Only the roots of a chain: what peers put in their trust store. */
export async function rootsOnly(chainPem: string): Promise<string> {
  const out: string[] = [];
  for (const pem of splitPemCertificates(chainPem)) if (await isSelfSigned(pem)) out.push(pem);
  return out.join('');
}
