/**
 * Turns the node config's TLS settings into what Node's TLS layer takes: server contexts for the
 * listeners that terminate TLS, and connect options for the pools that originate it. Runs when a
 * config or certificate is applied, never per request.
 */
import { readFile } from 'node:fs/promises';
import { checkServerIdentity as checkHostname, createSecureContext, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { CertificateRef, ClientTls, ServerTls, TrustRef } from '../contracts';
import { WeftError } from '../errors';
import { uriSans, type CertificateProvider } from './certificate-provider';

export const TLS_CONFIG_INVALID = 'WEFT_ERR_TLS_CONFIG_INVALID';

/**
 * The cipher suites the sidecar offers and accepts, in preference order: TLS 1.3's (all AEAD),
 * and for TLS 1.2 only ECDHE key exchange with AEAD ciphers (forward secrecy; no CBC, which
 * LUCKY13-style attacks target, no CCM8 with its short tag, no ARIA, no static RSA).
 */
export const MESH_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
/** Raised on a connection whose peer certificate verified but names the wrong identity. */
export const PEER_IDENTITY_REJECTED = 'WEFT_ERR_PEER_IDENTITY_REJECTED';

/** A listener's TLS, resolved. `mutual`: client certificates are required and verified. */
export interface ServerTlsRuntime {
  mode: 'STRICT' | 'PERMISSIVE';
  key: string;
  cert: string;
  ca: string | undefined;
  mutual: boolean;
  /** Accepted client URI SANs; empty accepts any certificate the trust verifies. */
  subjectAlternativeNames: readonly string[];
}

/** Connect options for undici/`tls.connect` towards one cluster. */
export interface ClientTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: true;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

const connectOptions = new WeakMap<ClientTlsOptions, ConnectionOptions>();

/**
 * `tls.connect` options for a cluster, with one secure context (key, certificate chain, trust
 * store) built once and shared by all its connections: passing the PEM texts instead makes Node
 * parse them and build a new context, trust store included, for every connection. A certificate
 * rotation resolves new options, and so a new context.
 */
export function clientConnectOptions(tls: ClientTlsOptions): ConnectionOptions {
  let options = connectOptions.get(tls);
  if (options === undefined) {
    const { key, cert, ca, ...rest } = tls;
    options = { ...rest, secureContext: createSecureContext({ key, cert, ca, ciphers: MESH_TLS_CIPHERS, minVersion: 'TLSv1.2' }) };
    connectOptions.set(tls, options);
  }
  return options;
}

/** Resolves certificate and trust references; DISABLED resolves to undefined. */
export async function resolveServerTls(tls: ServerTls, provider: CertificateProvider, where: string): Promise<ServerTlsRuntime | undefined> {
  if (tls.mode === 'DISABLED') return undefined;
  const { key, cert } = await resolveCertificate(tls.certificate ?? { mesh: true }, provider, `${where}.certificate`);
  const ca = tls.validation ? await resolveTrust(tls.validation.trust, provider, `${where}.validation.trust`) : undefined;
  return { mode: tls.mode, key, cert, ca, mutual: ca !== undefined, subjectAlternativeNames: tls.validation?.subjectAlternativeNames ?? [] };
}

/** Resolves a cluster's client TLS; DISABLED resolves to undefined. */
export async function resolveClientTls(tls: ClientTls, provider: CertificateProvider, where: string): Promise<ClientTlsOptions | undefined> {
  if (tls.mode === 'DISABLED') return undefined;
  // Without a trust of its own the peer is verified against the public roots, which vouch for
  // every site on the internet: accepting "any certificate the trust verifies" would then accept
  // any site's certificate. That case keeps Node's host name check (Istio's SIMPLE does the same).
  const identity = tls.subjectAlternativeNames.length === 0 && tls.trust === undefined ? checkHostname : identityCheck(tls.subjectAlternativeNames);
  const out: ClientTlsOptions = { rejectUnauthorized: true, checkServerIdentity: identity };
  if (tls.trust) out.ca = await resolveTrust(tls.trust, provider, `${where}.trust`);
  if (tls.mode === 'MUTUAL') {
    const { key, cert } = await resolveCertificate(tls.certificate ?? { mesh: true }, provider, `${where}.certificate`);
    out.key = key;
    out.cert = cert;
  }
  if (tls.sni) out.servername = tls.sni;
  return out;
}

/**
 * Checks the peer's URI SANs (SPIFFE ids) instead of its host name: mesh certificates name
 * workloads, not addresses. An empty list accepts any certificate the trust bundle verified.
 */
export function identityCheck(accepted: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  if (accepted.length === 0) return () => undefined;
  return (_host, cert) => {
    if (sansAccepted(cert, accepted)) return undefined;
    const err = new Error(`peer certificate identity ${JSON.stringify(uriSans(cert.subjectaltname))} is not one of ${JSON.stringify(accepted)}`);
    (err as NodeJS.ErrnoException).code = PEER_IDENTITY_REJECTED;
    return err;
  };
}

/** True when one of the certificate's URI or DNS SANs is in `accepted`. */
export function sansAccepted(cert: PeerCertificate, accepted: readonly string[]): boolean {
  const alt = cert.subjectaltname;
  if (!alt) return false;
  for (const part of alt.split(',')) {
    const p = part.trim();
    const value = p.startsWith('URI:') ? p.slice(4) : p.startsWith('DNS:') ? p.slice(4) : undefined;
    if (value !== undefined && accepted.includes(value)) return true;
  }
  return false;
}

async function resolveCertificate(ref: CertificateRef, provider: CertificateProvider, where: string): Promise<{ key: string; cert: string }> {
  if ('mesh' in ref) {
    const current = provider.current();
    if (!current) throw new WeftError(TLS_CONFIG_INVALID, `${where}: refers to the mesh certificate, but the sidecar has no certificate source (--cert-source none)`);
    return { key: current.privateKeyPem, cert: current.certificateChainPem };
  }
  const [cert, key] = await Promise.all([readPem(ref.file.certificateChain, `${where}.file.certificateChain`), readPem(ref.file.privateKey, `${where}.file.privateKey`)]);
  return { key, cert };
}

async function resolveTrust(ref: TrustRef, provider: CertificateProvider, where: string): Promise<string> {
  if ('mesh' in ref) {
    const current = provider.current();
    if (!current) throw new WeftError(TLS_CONFIG_INVALID, `${where}: refers to the mesh trust bundle, but the sidecar has no certificate source (--cert-source none)`);
    return current.trustBundlePem;
  }
  return readPem(ref.file.certificateChain, `${where}.file.certificateChain`);
}

async function readPem(path: string, where: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new WeftError(TLS_CONFIG_INVALID, `${where}: cannot read ${path}: ${(err as Error).message}`);
  }
}
