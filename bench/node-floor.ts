/**
 * A bare Node + undici reverse proxy on the sidecars' runtime: the least a proxy built on Node's
 * standard parts does (parse, forward over a keep-alive pool, stream the response back), with no
 * routing, policy or telemetry. What Node itself costs, with no proxy work at all, is the byte
 * relay's to measure (node-relay.ts; docs/decisions/0012-node-relay-floor.md).
 */
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { freePorts } from './ports';
import { startChild, waitForPort, type Child } from './children';
import { waitForOk, type PathContext, type ProxyUnderTest } from './paths';
import { join } from 'node:path';
import { sidecarEnv } from './tools';

export const FLOOR_FLAG = '--serve-node-floor';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** Runs the floor proxy in this process until SIGTERM. */
export function serveNodeFloor(port: number, upstreamPort: number): void {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1, keepAliveTimeout: 300_000 });
  const server = createServer((req, res) => {
    const bodyless = req.method === 'GET' || req.method === 'HEAD';
    pool
      .request({ path: req.url ?? '/', method: req.method as 'GET', headers: endToEnd(req.headers), body: bodyless ? null : req })
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, endToEnd(headers));
        body.pipe(res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
  server.keepAliveTimeout = 300_000;
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => process.exit(0));
}

/**
 * Starts a Node process of a floor path (this proxy, or the byte relay of node-relay-proxy.ts) on
 * the sidecars' runtime settings, pinned like every server, and waits for its port: a floor is
 * "a sidecar without Weft's code", so it runs as the sidecar would.
 */
export async function startFloorChild(ctx: PathContext, name: string, nodeBin: string, args: string[], port: number): Promise<Child> {
  const child = startChild(name, nodeBin, args, { logFile: join(ctx.dir, `${name}.log`), cpus: ctx.serverCpus, env: { ...process.env, ...sidecarEnv() } });
  await waitForPort(child, port);
  return child;
}

/** Why `nodeBin` cannot run a floor path, or undefined. */
export function nodeBinProblem(nodeBin: string): string | undefined {
  return spawnSync(nodeBin, ['--version']).status === 0 ? undefined : `${nodeBin} does not run`;
}

/** The floor proxy as a proxy under test; it runs from the bundled bench script only. */
export function nodeFloorProxy(benchScript: string, nodeBin: string, nodeFlags: readonly string[]): ProxyUnderTest {
  return {
    family: 'node-floor',
    label: 'bare Node+undici proxy',
    unavailable: () => (benchScript.endsWith('.js') ? nodeBinProblem(nodeBin) : 'runs from the bundled dist/bench.js only'),
    async oneHop(ctx) {
      const [port] = await freePorts(1);
      const child = await startFloorChild(ctx, 'node-floor', nodeBin, [...nodeFlags, benchScript, FLOOR_FLAG, String(port), String(ctx.upstreamPort)], port);
      const url = `http://127.0.0.1:${port}/`;
      await waitForOk(url, undefined);
      return { url, processes: [{ role: 'proxy', child }] };
    },
  };
}
