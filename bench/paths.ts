/**
 * The request paths the bench measures. Each proxy under test contributes a one-hop path (app ->
 * proxy -> upstream) and a two-hop mTLS path (app -> outbound proxy -> mTLS -> inbound proxy ->
 * upstream); "direct" is the baseline both are compared with. A new proxy (another Weft build, a
 * different runtime) is one more {@link ProxyUnderTest}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startChild, waitForPort, sleep, type Child } from './children';
import type { IdentityFiles } from './certs';

/** What a path needs from the harness. */
export interface PathContext {
  /** Scratch directory for this path (configs, logs, pid files). */
  dir: string;
  upstreamPort: number;
  /** Certificates per identity (generated once per bench run). */
  certificates(): Map<string, IdentityFiles>;
  /** CPU list the servers are pinned to. */
  serverCpus?: string;
}

/** A process whose CPU and memory are charged to the path (a proxy, never the upstream). */
export interface PathProcess {
  /** e.g. "proxy", "outbound", "inbound" */
  role: string;
  child: Child;
  /** The port this process accepts the path's connections on (bench/idle-connections.ts connects to it), when known. */
  port?: number;
}

export interface RunningPath {
  url: string;
  /** Host header for every request. */
  host?: string;
  processes: PathProcess[];
}

export type PathKind = 'direct' | 'one-hop' | 'two-hop-mtls';

export interface PathDefinition {
  id: string;
  label: string;
  /** `direct`, or the proxy family (`nginx`, `weft`). */
  family: string;
  kind: PathKind;
  /** A reason the path cannot run here, or undefined. */
  unavailable(): string | undefined;
  start(ctx: PathContext): Promise<RunningPath>;
}

/** A proxy implementation that can be measured on both proxy paths. */
export interface ProxyUnderTest {
  family: string;
  label: string;
  unavailable(): string | undefined;
  oneHop(ctx: PathContext): Promise<RunningPath>;
  /** Absent: the proxy has no mTLS path (it is measured on one hop only). */
  twoHopMtls?(ctx: PathContext): Promise<RunningPath>;
}

/** All paths for the given proxies: direct first, then each proxy's one-hop and two-hop paths. */
export function definePaths(proxies: readonly ProxyUnderTest[]): PathDefinition[] {
  const paths: PathDefinition[] = [
    {
      id: 'direct',
      label: 'direct to upstream',
      family: 'direct',
      kind: 'direct',
      unavailable: () => undefined,
      start: async (ctx) => ({ url: `http://127.0.0.1:${ctx.upstreamPort}/`, processes: [] }),
    },
  ];
  for (const p of proxies) {
    paths.push({ id: p.family, label: `${p.label} (1 hop)`, family: p.family, kind: 'one-hop', unavailable: () => p.unavailable(), start: (ctx) => p.oneHop(ctx) });
    const twoHop = p.twoHopMtls?.bind(p);
    if (twoHop) {
      paths.push({
        id: `${p.family}-mtls`,
        label: `${p.label} -> mTLS -> ${p.label} (2 hops)`,
        family: p.family,
        kind: 'two-hop-mtls',
        unavailable: () => p.unavailable(),
        start: (ctx) => twoHop(ctx),
      });
    }
  }
  return paths;
}

/** Starts `nginx -p <prefix> -c <conf> -g 'daemon off;'` in the foreground and waits for its port. */
export async function startNginx(ctx: PathContext, name: string, conf: string, port: number): Promise<Child> {
  const prefix = join(ctx.dir, name);
  mkdirSync(prefix, { recursive: true });
  const confFile = join(prefix, 'nginx.conf');
  writeFileSync(confFile, conf);
  const child = startChild(name, 'nginx', ['-p', prefix, '-c', confFile, '-g', 'daemon off;'], {
    logFile: join(prefix, 'stdout.log'),
    cpus: ctx.serverCpus,
  });
  await waitForPort(child, port);
  return child;
}

/**
 * Sends GETs until one comes back 200 (the path is wired end to end), for at most `timeoutMs`.
 * A listener can accept before its routes or certificates are loaded; this waits for both.
 */
export async function waitForOk(url: string, host: string | undefined, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const result = await getOnce(url, host);
    if (result === 200) return;
    last = String(result);
    await sleep(100);
  }
  throw new Error(`${url}${host ? ` (Host: ${host})` : ''} did not answer 200 within ${timeoutMs} ms; last: ${last}`);
}

function getOnce(url: string, host: string | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { headers: host ? { host } : {}, timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (e) => resolve(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}
