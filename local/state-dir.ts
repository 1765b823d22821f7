/**
 * The state directory of `weft up` (`.weft/` by default): the local CA, each node's certificate
 * directory, the compiled node configs and the endpoints file, at fixed places so a second run
 * reuses the CA and a user can read what the sidecars read. Every file a sidecar watches is
 * written to a temporary name and renamed, so a sidecar never reads half a file.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { nodeConfigKey } from '../proxy/contracts';

export class StateDir {
  readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  /** The local CA's key and certificate (lambda/certificates/local-ca.ts). */
  get caDir(): string {
    return join(this.root, 'ca');
  }

  /** A node's certificate directory (`--cert-source file:<dir>`). */
  certDir(mesh: string, node: string): string {
    return join(this.root, 'certs', mesh, node);
  }

  /** A node's compiled config (`--config`), laid out as in the S3 bucket. */
  configFile(mesh: string, node: string): string {
    return join(this.root, 'configs', nodeConfigKey(mesh, node));
  }

  /** The endpoints file every sidecar reads (`--endpoints file:<path>`). */
  get endpointsFile(): string {
    return join(this.root, 'endpoints.json');
  }
}

let writes = 0;

/** Writes `text` to `file` through a temporary name in the same directory and a rename. */
export async function writeAtomically(file: string, text: string, mode?: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${process.pid}.${writes++}.tmp`);
  await writeFile(tmp, text, mode === undefined ? undefined : { mode });
  await rename(tmp, file);
}
