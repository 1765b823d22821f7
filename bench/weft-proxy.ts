/**
 * The Weft sidecar under test: the image's bundle (`node dist/weft-proxy.js proxy`, the same
 * command line as `weft proxy`) with node configs written by the bench,
 * local-file certificates and static discovery, on loopback ports picked at start.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { serializeNodeConfig, type NodeConfig } from '../proxy/contracts';
import { startChild, waitForPort, type Child } from './children';
import { freePorts } from './ports';
import { waitForOk, type PathContext, type ProxyUnderTest } from './paths';
import { BENCH_SERVICE, benchJwt, inboundNodeConfig, outboundNodeConfig } from './weft-configs';
import { sidecarEnv } from './tools';

export interface WeftProxyOptions {
  /** Path to the sidecar bundle (dist/weft-proxy.js) or the bundled CLI (dist/weft.js). */
  cli: string;
  /** Node binary that runs the sidecar (default: the one running the bench). */
  nodeBin: string;
  /** Extra Node flags, e.g. --cpu-prof. */
  nodeFlags: string[];
  /** Environment on top of the image's (SIDECAR_ENV), which it may override, e.g. { MALLOC_ARENA_MAX: '2' }. */
  env?: Readonly<Record<string, string>>;
  /** Path id prefix and label, for a second build measured in the same run (default `weft`, `Weft`). */
  family?: string;
  label?: string;
  /** Outlier detection, an active health check and a 10% mirror on (weft-configs.ts). */
  resilience?: boolean;
  /** The serving node holds an inbound ALLOW policy of 10 rules, matched at the last (weft-configs.ts). */
  authz?: boolean;
  /** Metrics `emf,prometheus`, an access log line of every request on stdout (drained, discarded) and tracing at 1%, spans exported to a collector in the bench process. */
  observability?: boolean;
}

interface Sidecar {
  child: Child;
  inboundPort: number;
  egressPort: number;
}

/**
 * The resilience path's mirror target: accepts connections and never answers (nor reads), so every
 * copy waits until the sidecar cancels it. In the bench process, unref'd: it costs nothing the
 * path is charged for, and it does not keep the bench alive.
 */
async function silentServer(): Promise<number> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => socket.destroy());
    socket.unref();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return (server.address() as { port: number }).port;
}

/**
 * The observability path's span collector: answers every OTLP/HTTP export with 200 after reading
 * it, as a collector that keeps up would. In the bench process, unref'd, like {@link silentServer}.
 */
async function spanCollector(): Promise<string> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
}

export function weftProxy(opts: WeftProxyOptions): ProxyUnderTest {
  let verdict: string | undefined | null = null;
  const unavailable = (): string | undefined => {
    if (verdict !== null) return verdict;
    if (!existsSync(opts.cli)) verdict = `${opts.cli} does not exist (run npm run build)`;
    else {
      try {
        execFileSync(opts.nodeBin, [opts.cli, 'proxy', '--help'], { stdio: 'pipe', timeout: 15_000 });
        verdict = undefined;
      } catch (err) {
        const e = err as { stderr?: Buffer; message: string };
        verdict = `\`weft proxy --help\` failed: ${(e.stderr?.toString() || e.message).trim().split('\n')[0]}`;
      }
    }
    return verdict;
  };

  async function startSidecar(ctx: PathContext, name: string, config: NodeConfig, certDir: string | undefined): Promise<Sidecar> {
    const dir = join(ctx.dir, `${opts.family ?? 'weft'}-${name}`);
    mkdirSync(dir, { recursive: true });
    const configFile = join(dir, 'node-config.json');
    writeFileSync(configFile, serializeNodeConfig(config));
    const [inboundPort, egressPort, adminPort, metricsPort] = await freePorts(4);
    const metrics = opts.observability ? ['--metrics', 'emf,prometheus', '--metrics-port', String(metricsPort)] : ['--metrics', 'none'];
    const args = [
      ...opts.nodeFlags.map((f) => f.replace('{dir}', dir)),
      opts.cli,
      'proxy',
      '--config', configFile,
      '--inbound-port', String(inboundPort),
      '--egress-port', String(egressPort),
      '--admin-port', String(adminPort),
      '--listen-address', '127.0.0.1',
      '--cert-source', certDir ? `file:${certDir}` : 'none',
      ...metrics,
      '--log-level', 'warn',
      '--drain-deadline-ms', '1000',
    ];
    const child = startChild(name, opts.nodeBin, args, { logFile: join(dir, 'sidecar.log'), discardStdout: opts.observability, cpus: ctx.serverCpus, env: { ...process.env, ...sidecarEnv(), ...opts.env } });
    await waitForPort(child, config.inbound.listeners.length > 0 ? inboundPort : egressPort);
    return { child, inboundPort, egressPort };
  }

  return {
    family: opts.family ?? 'weft',
    label: opts.label ?? 'Weft',
    unavailable,
    async oneHop(ctx) {
      const mirrorPort = opts.resilience ? await silentServer() : undefined;
      const tracingEndpoint = opts.observability ? await spanCollector() : undefined;
      const config = outboundNodeConfig({ node: 'client', targetNode: 'app', targetPort: ctx.upstreamPort, endpointPort: ctx.upstreamPort, mirrorPort, mtls: false, resilience: opts.resilience, accessLog: opts.observability, tracingEndpoint });
      const sidecar = await startSidecar(ctx, 'weft-1hop', config, undefined);
      const url = `http://127.0.0.1:${sidecar.egressPort}/`;
      await waitForOk(url, BENCH_SERVICE);
      return { url, host: BENCH_SERVICE, processes: [{ role: 'proxy', child: sidecar.child, port: sidecar.egressPort }] };
    },
    async twoHopMtls(ctx) {
      const certs = ctx.certificates();
      const tracingEndpoint = opts.observability ? await spanCollector() : undefined;
      const server = await startSidecar(ctx, 'weft-inbound', inboundNodeConfig('server', ctx.upstreamPort, { authz: opts.authz, accessLog: opts.observability, tracingEndpoint }), certs.get('server')!.dir);
      const mirrorPort = opts.resilience ? await silentServer() : undefined;
      const config = outboundNodeConfig({ node: 'client', targetNode: 'server', targetPort: ctx.upstreamPort, endpointPort: server.inboundPort, mirrorPort, mtls: true, resilience: opts.resilience, accessLog: opts.observability, tracingEndpoint });
      const client = await startSidecar(ctx, 'weft-outbound', config, certs.get('client')!.dir);
      // The authz path's client sends its JWT as a query parameter: wrk sends one URL and a Host.
      const url = `http://127.0.0.1:${client.egressPort}/${opts.authz ? `?access_token=${benchJwt().token}` : ''}`;
      await waitForOk(url, BENCH_SERVICE);
      return {
        url,
        host: BENCH_SERVICE,
        processes: [
          { role: 'outbound', child: client.child, port: client.egressPort },
          { role: 'inbound', child: server.child, port: server.inboundPort },
        ],
      };
    },
  };
}
