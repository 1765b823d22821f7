/**
 * The floor for a Node sidecar: the least a Node 20 + undici reverse proxy can do (parse, forward
 * over a keep-alive pool, stream the response back), with no routing, policy or telemetry. Comparing
 * Weft with it separates what Node itself costs from what Weft adds.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { freePorts } from './ports';
import { startChild, waitForPort } from './children';
import { waitForOk, type ProxyUnderTest } from './paths';
import { join } from 'node:path';
import { SIDECAR_ENV } from '../proxy/sidecar-runtime';

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

/** The floor proxy as a proxy under test; it runs from the bundled bench script only. */
export function nodeFloorProxy(benchScript: string, nodeBin: string, nodeFlags: readonly string[]): ProxyUnderTest {
  return {
    family: 'node-floor',
    label: 'bare Node+undici proxy',
    unavailable: () => {
      if (!benchScript.endsWith('.js')) return 'runs from the bundled dist/bench.js only';
      return spawnSync(nodeBin, ['--version']).status === 0 ? undefined : `${nodeBin} does not run`;
    },
    async oneHop(ctx) {
      const [port] = await freePorts(1);
      const child = startChild('node-floor', nodeBin, [...nodeFlags, benchScript, FLOOR_FLAG, String(port), String(ctx.upstreamPort)], {
        logFile: join(ctx.dir, 'node-floor.log'),
        cpus: ctx.serverCpus,
        // The same runtime settings as the sidecars (the floor is "Weft minus Weft's code").
        env: { ...process.env, ...SIDECAR_ENV },
      });
      await waitForPort(child, port);
      const url = `http://127.0.0.1:${port}/`;
      await waitForOk(url, undefined);
      return { url, processes: [{ role: 'proxy', child }] };
    },
  };
}
