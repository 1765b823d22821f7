/**
 * Local mode's mesh identities: the local CA (created on first use in the state directory and kept,
 * lambda/certificates/local-ca.ts) issues each node a leaf with its SPIFFE id, laid out as the
 * sidecar's `file:<dir>` certificate source reads it (CERTIFICATE_FILES). Leaves are issued afresh
 * at each start of `weft up` and for each node that appears while it runs.
 */
import { CERTIFICATE_FILES } from '../proxy/contracts';
import { generateKeyAndCsr } from '../lambda/certificates/csr';
import { createLocalCa } from '../lambda/certificates/local-ca';
import type { CertificateAuthority } from '../lambda/certificates/ca-port';
import { join } from 'node:path';
import { writeAtomically, type StateDir } from './state-dir';

/** How long a local leaf lasts: restart `weft up` within it (leaves are not renewed while it runs). */
export const LOCAL_LEAF_VALIDITY_DAYS = 30;

export class LocalIdentities {
  private readonly ca: CertificateAuthority;

  constructor(private readonly state: StateDir) {
    this.ca = createLocalCa({ dir: state.caDir, name: 'Weft local mesh CA (weft up)' });
  }

  /** Issues `node`'s certificate for `spiffeId` into its certificate directory; returns the directory. */
  async issue(mesh: string, node: string, spiffeId: string): Promise<string> {
    const dir = this.state.certDir(mesh, node);
    const { privateKeyPem, csrPem } = await generateKeyAndCsr(spiffeId, node);
    const issued = await this.ca.issue(csrPem, spiffeId, LOCAL_LEAF_VALIDITY_DAYS);
    const trust = await this.ca.caCertificatePem();
    // The key and certificate must change together; the sidecar watches the directory and
    // refuses a key that does not match its certificate, so a moment between them is harmless.
    await writeAtomically(join(dir, CERTIFICATE_FILES.trustBundle), trust);
    await writeAtomically(join(dir, CERTIFICATE_FILES.chain), issued.chainPem);
    await writeAtomically(join(dir, CERTIFICATE_FILES.privateKey), privateKeyPem, 0o600);
    await writeAtomically(join(dir, CERTIFICATE_FILES.certificate), issued.certificatePem);
    return dir;
  }
}
