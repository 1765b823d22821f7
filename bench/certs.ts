/**
 * Test PKI for the mTLS paths, made with the openssl CLI: one EC P-256 root and one leaf per
 * sidecar identity, laid out as the sidecar's `file:<dir>` certificate source expects
 * (CERTIFICATE_FILES). nginx uses the same files, so both meshes pay for the same key sizes.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTIFICATE_FILES, spiffeId } from '../proxy/contracts';

/** Mesh name and trust domain of every bench identity: spiffe://bench/ns/bench/sa/<node>. */
export const BENCH_MESH = 'bench';
export const BENCH_TRUST_DOMAIN = 'bench';

export interface IdentityFiles {
  node: string;
  spiffeId: string;
  /** Directory holding CERTIFICATE_FILES for this identity. */
  dir: string;
  privateKey: string;
  certificate: string;
  chain: string;
  trustBundle: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

/**
 * Creates `<root>/ca` and one `<root>/<node>` directory per node. Leaves carry the node's SPIFFE id
 * as URI SAN and the node name as DNS SAN (nginx checks names, Weft checks the SPIFFE id).
 */
export function generateMeshCertificates(root: string, nodes: readonly string[]): Map<string, IdentityFiles> {
  const caDir = join(root, 'ca');
  mkdirSync(caDir, { recursive: true });
  const caKey = join(caDir, 'ca-key.pem');
  const caCert = join(caDir, 'ca.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey], caDir);
  openssl(
    ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=weft-bench-ca', '-days', '2', '-out', caCert,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    caDir,
  );
  const trust = readFileSync(caCert, 'utf8');
  const out = new Map<string, IdentityFiles>();
  for (const node of nodes) {
    const dir = join(root, node);
    mkdirSync(dir, { recursive: true });
    const id = spiffeId(BENCH_TRUST_DOMAIN, BENCH_MESH, node);
    const files: IdentityFiles = {
      node,
      spiffeId: id,
      dir,
      privateKey: join(dir, CERTIFICATE_FILES.privateKey),
      certificate: join(dir, CERTIFICATE_FILES.certificate),
      chain: join(dir, CERTIFICATE_FILES.chain),
      trustBundle: join(dir, CERTIFICATE_FILES.trustBundle),
    };
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', files.privateKey], dir);
    const csr = join(dir, 'leaf.csr');
    const ext = join(dir, 'leaf.ext');
    openssl(['req', '-new', '-key', files.privateKey, '-subj', `/CN=${node}`, '-out', csr], dir);
    writeFileSync(
      ext,
      [
        `subjectAltName=URI:${id},DNS:${node}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth,clientAuth',
        '',
      ].join('\n'),
    );
    openssl(
      ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(12).toString('hex')}`,
        '-days', '2', '-extfile', ext, '-out', files.certificate],
      dir,
    );
    // Only the CERTIFICATE_FILES stay: the sidecar watches this directory.
    rmSync(csr);
    rmSync(ext);
    // The root signs the leaves directly: no intermediates.
    writeFileSync(files.chain, '');
    writeFileSync(files.trustBundle, trust);
    out.set(node, files);
  }
  return out;
}
