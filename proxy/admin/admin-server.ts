/**
 * The admin port (loopback by default): readiness and liveness for the container health check,
 * counters, clusters and the config in force, and the few operations an operator needs. Endpoints
 * that change state answer only POST (a GET from a browser or a crawler must not drain a sidecar).
 *
 * A browser on the same host can reach the port too. Two defences keep web pages out: the Host
 * must name this server (loopback, or the address it listens on), which defeats DNS rebinding,
 * where an attacker's name resolves to 127.0.0.1 but stays in Host; and state-changing requests
 * must not come from a page (Origin or a cross-site Sec-Fetch-Site), which defeats cross-site POSTs
 * from forms and `no-cors` fetches. No response carries CORS headers, so the browser keeps every
 * answer from another origin's scripts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { ClusterStats } from '../cluster/cluster-runtime';
import type { ConfigStore } from '../config/config-store';
import type { OpenConnection } from '../http/listener';
import { sendError, type WeftErrorCode } from '../errors';
import { mirrorStats, type MirrorStats } from '../resilience/mirror';
import { renderTraffic, type SidecarStats } from '../stats';
import type { TcpStats } from '../tcp/tcp-proxy';
import { PROMETHEUS_PATH, sendPrometheus } from './metrics-server';

export interface AdminState {
  store: ConfigStore;
  stats: SidecarStats;
  /** Byte-stream (TCP, SNI passthrough) counters. */
  tcp: TcpStats;
  /** Bound ports by listener name, for /stats. */
  ports: () => Record<string, unknown>;
  draining: () => boolean;
  /** Starts a graceful drain of the traffic listeners (the process stays up). */
  drain: () => void;
  /** Prometheus text of the sidecar's metrics; undefined when `--metrics` does not name `prometheus`. */
  prometheus?: () => string;
  /** The local app's health as the sidecar's checks see it (never part of readiness). */
  appHealth?: () => { status: string } & Record<string, unknown>;
  /** The span exporter's counters; null while tracing is off. */
  tracing?: () => Record<string, unknown> | null;
  /** Open connections of the listeners peers connect to (inbound and gateway), for `/connections`. */
  connections?: () => OpenConnection[];
  /** Told when an operator fails or restores the health check (`/healthcheck/fail|ok`). */
  onHealthcheckFailed?: (failed: boolean) => void;
}

const MUTATING = new Set(['/drain', '/healthcheck/fail', '/healthcheck/ok']);

export class AdminServer {
  private readonly server: Server;
  private healthcheckFailed = false;
  private acceptsHost = hostRule();

  constructor(private readonly state: AdminState) {
    this.server = createServer({ requireHostHeader: false }, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 1_000;
  }

  /** Listens on `host`, which a request's Host may then name besides loopback (unless it is 0.0.0.0 or ::). */
  listen(port: number, host: string): Promise<number> {
    this.acceptsHost = hostRule(host);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Ready: a config is applied, not draining, and not failed by an operator. The local app's health is not part of it. */
  get ready(): boolean {
    return this.state.store.current !== undefined && !this.state.draining() && !this.healthcheckFailed;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // HTTP/1.0 tools may send no Host; every browser sends one.
    const host = req.headers.host;
    if (host !== undefined && !this.acceptsHost(host)) return refuse(res, 'WEFT_ERR_ADMIN_HOST_REFUSED');
    const path = (req.url ?? '/').split('?')[0];
    if (MUTATING.has(path)) {
      if (req.method !== 'POST') return refuse(res, 'WEFT_ERR_METHOD_NOT_ALLOWED', { allow: 'POST' });
      if (fromWebPage(req)) return refuse(res, 'WEFT_ERR_ADMIN_ORIGIN_REFUSED');
      if (path === '/drain') this.state.drain();
      else {
        this.healthcheckFailed = path === '/healthcheck/fail';
        this.state.onHealthcheckFailed?.(this.healthcheckFailed);
      }
      return text(res, 200, 'OK\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 'WEFT_ERR_METHOD_NOT_ALLOWED', { allow: 'GET' });
    switch (path) {
      case '/ready':
        return this.ready ? text(res, 200, 'LIVE\n') : text(res, 503, `${this.state.draining() ? 'DRAINING' : this.healthcheckFailed ? 'HEALTHCHECK_FAILED' : 'NOT_CONFIGURED'}\n`);
      case '/live':
        return text(res, 200, 'LIVE\n');
      case '/health/app': {
        // Information for operators: 200 only while the app's checks pass. Not for the sidecar
        // container's health check, which must stay on /ready (the app starts after the sidecar).
        const app = this.state.appHealth?.() ?? { status: 'UNKNOWN', checks: [] };
        return json(res, app, app.status === 'HEALTHY' ? 200 : 503);
      }
      case '/stats':
        return json(res, this.statsBody());
      case PROMETHEUS_PATH:
        if (this.state.prometheus === undefined) return refuse(res, 'WEFT_ERR_ADMIN_NOT_FOUND');
        return sendPrometheus(res, this.state.prometheus());
      case '/clusters':
        return json(res, { clusters: [...(this.state.store.current?.clusters.values() ?? [])].map((c) => ({ ...c.describe(), stats: clusterStats(c.stats, mirrorStats(c)) })) });
      case '/connections':
        return json(res, { connections: this.state.connections?.() ?? [] });
      case '/config_dump': {
        const store = this.state.store;
        return json(res, { version: store.current?.version, appliedAt: store.appliedAt, lastError: store.lastError ?? null, config: store.current?.config });
      }
      default:
        return refuse(res, 'WEFT_ERR_ADMIN_NOT_FOUND');
    }
  }

  private statsBody(): Record<string, unknown> {
    const { store, stats } = this.state;
    const listeners = { inbound: renderTraffic(stats.inbound), egress: renderTraffic(stats.egress), gateway: renderTraffic(stats.gateway) };
    const total = [stats.inbound, stats.egress, stats.gateway];
    const responses: Record<string, number> = {};
    for (let c = 1; c <= 5; c++) responses[`${c}xx`] = total.reduce((n, t) => n + t.responses[c], 0);
    const clusters: Record<string, unknown> = {};
    for (const c of store.current?.clusters.values() ?? []) clusters[c.name] = clusterStats(c.stats, mirrorStats(c));
    return {
      ready: this.ready,
      draining: this.state.draining(),
      healthcheckFailed: this.healthcheckFailed,
      appHealth: this.state.appHealth?.() ?? null,
      config: { version: store.current?.version ?? null, appliedAt: store.appliedAt ?? null, lastError: store.lastError ?? null, refusedNewer: store.refusedNewer },
      ports: this.state.ports(),
      requests: total.reduce((n, t) => n + t.requests, 0),
      active: total.reduce((n, t) => n + t.active, 0),
      responses,
      listeners,
      egress: { passthrough: stats.egressPassthrough, denied: stats.egressDenied, tunnels: stats.tunnels },
      clientErrors: stats.clientErrors,
      internalErrors: stats.internalErrors,
      connections: stats.listeners,
      tcp: this.state.tcp,
      tracing: this.state.tracing?.() ?? null,
      clusters,
    };
  }
}

const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

// A name, or an address in brackets, then an optional port (RFC 9110 Host; a bare IPv6 address is
// checked apart, since its colons cannot be told from a port's).
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d{0,5})?$/i;

/**
 * Whether a Host header names this server: a loopback name or address, or `listenHost` when that
 * is a specific address or name. An unspecified address adds nothing: it says nothing about which
 * names reach the server, and a rebinding attacker's name reaches it too.
 */
function hostRule(listenHost?: string): (header: string) => boolean {
  const addresses = new BlockList();
  addresses.addSubnet('127.0.0.0', 8, 'ipv4');
  addresses.addAddress('::1', 'ipv6');
  const names = new Set(['localhost']);
  if (listenHost !== undefined) {
    const f = isIP(listenHost);
    if (f === 0) names.add(listenHost.toLowerCase());
    else if (!UNSPECIFIED.check(listenHost, family(f))) addresses.addAddress(listenHost, family(f));
  }
  return (header) => {
    const match = isIP(header) === 6 ? [header, header] : HOST_HEADER.exec(header);
    if (match === null) return false;
    const name = match[1] ?? match[2];
    const f = isIP(name);
    return f === 0 ? names.has(name.toLowerCase()) : addresses.check(name, family(f));
  };
}

function family(f: number): 'ipv4' | 'ipv6' {
  return f === 4 ? 'ipv4' : 'ipv6';
}

/**
 * True for a request a web page made. Browsers send Origin with every POST a page makes (`null`
 * from sandboxed frames and opaque origins) and Sec-Fetch-Site with every request; operators'
 * tools send neither, and a browser tab opened by hand says `none`. The admin serves no pages, so
 * no page of its own origin needs to change state.
 */
function fromWebPage(req: IncomingMessage): boolean {
  if (req.headers.origin !== undefined) return true;
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'none' && site !== 'same-origin';
}

function refuse(res: ServerResponse, code: WeftErrorCode, extraHeaders?: Record<string, string>): void {
  sendError(res, code, false, { 'cache-control': 'no-store', ...extraHeaders });
}

/** A cluster's counters; `mirror` only for a cluster some route mirrors to (resilience/mirror.ts). */
function clusterStats(s: ClusterStats, mirror: MirrorStats | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...renderTraffic(s),
    overflow: s.overflow,
    connectFailures: s.connectFailures,
    timeouts: s.timeouts,
    noEndpoint: s.noEndpoint,
    retries: s.retries,
    retryOverflow: s.retryOverflow,
    retriesActive: s.retriesActive,
    outlierDetection: { ejectionsConsecutive5xx: s.ejectionsConsecutive5xx, ejectionsConsecutiveGatewayErrors: s.ejectionsConsecutiveGatewayErrors, ejectionsOverflow: s.ejectionsOverflow },
    healthChecks: { attempts: s.healthChecks, failures: s.healthCheckFailures },
  };
  if (mirror !== undefined) out.mirror = { ...mirror };
  return out;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  const data = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store' });
  res.end(data);
}
