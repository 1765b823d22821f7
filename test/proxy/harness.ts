/**
 * Real parts for the sidecar tests: upstream HTTP servers on 127.0.0.1, node configs written to
 * a temp directory, and sidecars started on ephemeral ports.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as netConnect, createServer as createTcpServer } from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parseSettings, sealNodeConfig, type NodeConfig, type NodeConfigInput, type Settings } from '../../proxy/contracts';
import { startSidecar, type SidecarDeps, type SidecarHandle } from '../../proxy/main';
import { silentLogger } from '../../proxy/log';

export type ConfigBody = Omit<NodeConfigInput, 'version' | 'schema'>;
type RouteInput = ConfigBody['outbound']['services'][number]['listeners'][number]['routes'][number];
type ClusterInput = ConfigBody['clusters'][number];

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export interface Upstream {
  name: string;
  port: number;
  seen: SeenRequest[];
  server: Server;
  close(): Promise<void>;
}

/** An HTTP server that records each request and answers `{ name, url, headers }` as JSON. */
export async function startUpstream(name: string, opts: { delayMs?: number } = {}): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() };
      seen.push(entry);
      const respond = (): void => {
        const body = JSON.stringify({ name, url: req.url, headers: req.headers, body: entry.body });
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, connection: 'keep-alive, x-upstream-private', 'x-upstream-private': 'secret', 'keep-alive': 'timeout=5' });
        res.end(body);
      };
      if (opts.delayMs) setTimeout(respond, opts.delayMs);
      else respond();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    name,
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const TIMEOUT = { perRequestMs: 15_000, idleMs: 300_000 };
const RETRY = { maxRetries: 0, perTryTimeoutMs: 0 };

export function httpRoute(name: string, targets: Record<string, number>, match: Record<string, unknown> = { path: { prefix: '/' } }, extra: Record<string, unknown> = {}): RouteInput {
  return {
    protocol: 'http',
    name,
    priority: 0,
    match,
    action: { weightedTargets: Object.entries(targets).map(([cluster, weight]) => ({ cluster, weight })) },
    retryPolicy: RETRY,
    timeout: TIMEOUT,
    ...extra,
  } as RouteInput;
}

export function tcpRoute(name: string, cluster: string): RouteInput {
  return { protocol: 'tcp', name, priority: 0, match: {}, action: { weightedTargets: [{ cluster, weight: 1 }] }, retryPolicy: RETRY, timeout: TIMEOUT } as RouteInput;
}

/** A cluster with static endpoints on 127.0.0.1. */
export function staticCluster(name: string, ports: number[], extra: Partial<ClusterInput> = {}): ClusterInput {
  return {
    name,
    virtualNode: name.split(':')[0],
    port: 8080,
    protocol: 'http',
    discovery: { type: 'static', endpoints: ports.map((port) => ({ address: '127.0.0.1', port })) },
    ...extra,
  } as ClusterInput;
}

/** A virtual node config body: one inbound listener on 8080 and the given backends. */
export function nodeBody(opts: {
  services?: ConfigBody['outbound']['services'];
  clusters?: ClusterInput[];
  egressFilter?: 'ALLOW_ALL' | 'DROP_ALL';
  name?: string;
  inbound?: ConfigBody['inbound']['listeners'];
}): ConfigBody {
  const name = opts.name ?? 'client';
  return {
    mesh: { name: 'demo', egressFilter: opts.egressFilter ?? 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualNode', name, spiffeId: `spiffe://weft.test/ns/demo/sa/${name}` },
    inbound: { listeners: opts.inbound ?? [{ port: 8080, protocol: 'http', timeout: TIMEOUT }], policy: {} },
    outbound: { services: opts.services ?? [] },
    clusters: opts.clusters ?? [],
  };
}

/** A virtual gateway config body: an HTTP listener on 8443 routing every request to `app.demo.local`, served on `appPort`; `policy` is the gateway's. */
export function gatewayBody(appPort: number, policy: ConfigBody['inbound']['policy'] = {}): ConfigBody {
  return {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [{ port: 8443, protocol: 'http' }],
      routes: [{ name: 'edge/app', priority: 0, protocol: 'http', match: { path: { prefix: '/' } }, target: { virtualService: 'app.demo.local' }, rewrite: {} }],
      policy,
    },
    outbound: { services: [{ name: 'app.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('app/r', { 'app:8080': 1 })] }] }] },
    clusters: [staticCluster('app:8080', [appPort])],
  };
}

/** Settings as parsed from an empty environment, with every port ephemeral. */
export function testSettings(overrides: Partial<Settings> = {}): Settings {
  return { ...parseSettings([], {}), inboundPort: 0, egressPort: 0, adminPort: 0, listenAddress: '127.0.0.1', ...overrides };
}

export class ConfigDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-proxy-'));
  readonly path = join(this.dir, 'node.json');
  private n = 0;

  /** Seals and writes a config the way publishers do: to a temp name, then rename. */
  write(body: ConfigBody): NodeConfig {
    const config = sealNodeConfig(body);
    this.writeText(JSON.stringify(config));
    return config;
  }

  writeText(text: string): void {
    const tmp = join(this.dir, `.node.json.${this.n++}`);
    writeFileSync(tmp, text);
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Running {
  handle: SidecarHandle;
  config: ConfigDir;
  close(): Promise<void>;
}

/** Writes `body` and starts a sidecar on it. */
export async function startWith(body: ConfigBody, overrides: Partial<Settings> = {}, deps: SidecarDeps = {}): Promise<Running> {
  const config = new ConfigDir();
  config.write(body);
  const handle = await startSidecar(testSettings({ config: config.path, ...overrides }), { logger: silentLogger, ...deps });
  return {
    handle,
    config,
    close: async () => {
      await handle.close();
      config.remove();
    },
  };
}

/** One client agent per test file, closed in afterAll. */
export const agent = new Agent({ keepAliveTimeout: 1_000 });

export async function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method: method as 'GET', headers, body, dispatcher: agent });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as { name: string; url: string; headers: IncomingHttpHeaders; body: string } };
}

/** Polls `check` until it returns true (generous: no timing is asserted). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** A loopback port nothing listens on now (a connect to it is refused; a process may take it). */
export async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Opens a CONNECT tunnel to `echo.demo.local:7000` through the egress listener on `port`, sends `ping`, reads it back and closes. */
export function tcpThroughConnect(port: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => s.write('CONNECT echo.demo.local:7000 HTTP/1.1\r\nHost: echo.demo.local:7000\r\n\r\n'));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.endsWith('\r\n\r\n')) s.write('ping');
      if (got.endsWith('ping')) s.end();
    });
    s.on('close', () => resolve());
  });
}
