/** The external tools the bench drives (nginx, wrk, openssl, taskset) and their versions. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SIDECAR_ENV } from '../proxy/sidecar-runtime';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Names of required tools that are not on PATH. */
export function missingTools(): string[] {
  return ['nginx', 'wrk', 'openssl'].filter((t) => !hasCommand(t));
}

const PACKAGES: Record<string, string> = { nginx: 'nginx-light', wrk: 'wrk', openssl: 'openssl', jemalloc: 'libjemalloc2' };

/** Where the image has jemalloc, then where Debian's libjemalloc2 puts it on this machine. */
function jemallocPaths(): string[] {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return [SIDECAR_ENV.LD_PRELOAD, `/usr/lib/${arch}-linux-gnu/libjemalloc.so.2`].filter((p): p is string => p !== undefined);
}

/**
 * The sidecar image's environment as this machine can give it: jemalloc preloaded from where
 * Debian installed it, or, without it, no preload (glibc malloc; the report's environment line
 * then shows that the image's allocator was not measured).
 */
export function sidecarEnv(): Record<string, string> {
  const env: Record<string, string> = { ...SIDECAR_ENV };
  const found = jemallocPaths().find((p) => existsSync(p));
  if (found === undefined) {
    delete env.LD_PRELOAD;
    delete env.MALLOC_CONF;
  } else env.LD_PRELOAD = found;
  return env;
}

/**
 * Installs missing tools with apt-get (Debian; needs root). Returns what is still missing after
 * trying, so the caller can explain what to install by hand.
 */
export function installTools(log: (line: string) => void): string[] {
  const missing = missingTools();
  // The image's allocator: optional (the bench falls back to glibc), so not reported as missing.
  if (!jemallocPaths().some((p) => existsSync(p))) missing.push('jemalloc');
  if (missing.length === 0) return [];
  if (!hasCommand('apt-get') || process.getuid?.() !== 0) {
    log(`missing ${missing.join(', ')}; install them (apt-get install ${missing.map((m) => PACKAGES[m]).join(' ')}) and re-run`);
    return missing;
  }
  log(`installing ${missing.join(', ')} with apt-get ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing.map((m) => PACKAGES[m])], { stdio: 'inherit', env, timeout: 600_000 });
  } catch (err) {
    log(`apt-get failed: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!jemallocPaths().some((p) => existsSync(p))) log('jemalloc is not installed: the sidecars run on glibc malloc, not the image\'s allocator');
  return missingTools();
}

/** First line of a tool's version banner, or undefined. */
export function toolVersion(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0];
  return text === '' ? undefined : text;
}
