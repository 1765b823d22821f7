/**
 * The admin port (loopback by default): readiness and liveness for the container health check,
 * counters, clusters and the config in force, and the few operations an operator needs. Endpoints
 * that change state answer only POST (a GET from a browser or a crawler must not drain a sidecar).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ClusterStats } from '../cluster/cluster-runtime';
import type { ConfigStore } from '../config/config-store';
import { sendError } from '../errors';
import { renderTraffic, type SidecarStats } from '../stats';
import type { TcpStats } from '../tcp/tcp-proxy';

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
}

const MUTATING = new Set(['/drain', '/healthcheck/fail', '/healthcheck/ok']);

export class AdminServer {
  private readonly server: Server;
  private healthcheckFailed = false;

  constructor(private readonly state: AdminState) {
    this.server = createServer({ requireHostHeader: false }, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 1_000;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Ready: a config is applied, not draining, and not failed by an operator. */
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
    const path = (req.url ?? '/').split('?')[0];
    if (MUTATING.has(path)) {
      if (req.method !== 'POST') return sendError(res, 'WEFT_ERR_METHOD_NOT_ALLOWED', false, { allow: 'POST' });
      if (path === '/drain') this.state.drain();
      else this.healthcheckFailed = path === '/healthcheck/fail';
      return text(res, 200, 'OK\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'WEFT_ERR_METHOD_NOT_ALLOWED', false, { allow: 'GET' });
    switch (path) {
      case '/ready':
        return this.ready ? text(res, 200, 'LIVE\n') : text(res, 503, `${this.state.draining() ? 'DRAINING' : this.healthcheckFailed ? 'HEALTHCHECK_FAILED' : 'NOT_CONFIGURED'}\n`);
      case '/live':
        return text(res, 200, 'LIVE\n');
      case '/stats':
        return json(res, this.statsBody());
      case '/clusters':
        return json(res, { clusters: [...(this.state.store.current?.clusters.values() ?? [])].map((c) => ({ ...c.describe(), stats: clusterStats(c.stats) })) });
      case '/config_dump': {
        const store = this.state.store;
        return json(res, { version: store.current?.version, appliedAt: store.appliedAt, lastError: store.lastError ?? null, config: store.current?.config });
      }
      default:
        return sendError(res, 'WEFT_ERR_ADMIN_NOT_FOUND');
    }
  }

  private statsBody(): Record<string, unknown> {
    const { store, stats } = this.state;
    const listeners = { inbound: renderTraffic(stats.inbound), egress: renderTraffic(stats.egress), gateway: renderTraffic(stats.gateway) };
    const total = [stats.inbound, stats.egress, stats.gateway];
    const responses: Record<string, number> = {};
    for (let c = 1; c <= 5; c++) responses[`${c}xx`] = total.reduce((n, t) => n + t.responses[c], 0);
    const clusters: Record<string, unknown> = {};
    for (const c of store.current?.clusters.values() ?? []) clusters[c.name] = clusterStats(c.stats);
    return {
      ready: this.ready,
      draining: this.state.draining(),
      healthcheckFailed: this.healthcheckFailed,
      config: { version: store.current?.version ?? null, appliedAt: store.appliedAt ?? null, lastError: store.lastError ?? null },
      ports: this.state.ports(),
      requests: total.reduce((n, t) => n + t.requests, 0),
      active: total.reduce((n, t) => n + t.active, 0),
      responses,
      listeners,
      egress: { passthrough: stats.egressPassthrough, denied: stats.egressDenied, tunnels: stats.tunnels },
      clientErrors: stats.clientErrors,
      tcp: this.state.tcp,
      clusters,
    };
  }
}

function clusterStats(s: ClusterStats): Record<string, unknown> {
  return { ...renderTraffic(s), overflow: s.overflow, connectFailures: s.connectFailures, timeouts: s.timeouts, noEndpoint: s.noEndpoint };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, body: unknown): void {
  const data = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'cache-control': 'no-store' });
  res.end(data);
}
