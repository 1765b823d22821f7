/**
 * Byte-stream proxying: joins a client connection to an upstream one. Used by TCP listeners
 * (inbound: peer sidecar -> local app), transparent egress (app -> cluster by TCP route, or the
 * original destination / SNI host under ALLOW_ALL). A byte stream has no place for an error
 * response, so a refusal closes the connection, counts it and logs it by code (rate-limited).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { clientConnectOptions } from '../tls/tls-options';
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../http/pipeline';
import type { Logger } from '../log';
import type { Endpoint, OutboundTarget } from '../routing/types';

/** Codes a byte-stream refusal is logged and counted under. */
export type TcpRefusalCode =
  | 'WEFT_ERR_ORIGINAL_DST_UNAVAILABLE'
  | 'WEFT_ERR_EGRESS_DENIED'
  | 'WEFT_ERR_EGRESS_LOOP'
  | 'WEFT_ERR_NO_ROUTE'
  | 'WEFT_ERR_UNKNOWN_CLUSTER'
  | 'WEFT_ERR_NO_HEALTHY_UPSTREAM'
  | 'WEFT_ERR_UPSTREAM_CONNECT'
  | 'WEFT_ERR_UPSTREAM_TLS'
  | 'WEFT_ERR_APP_UNREACHABLE'
  | 'WEFT_ERR_TCP_LISTENER_AMBIGUOUS';

/** Connection counters of the TCP paths (also reflected in the sidecar and cluster stats). */
export interface TcpStats {
  /** Connections accepted for byte-stream proxying. */
  connections: number;
  /** Joined connections currently open. */
  active: number;
  /** Connections closed without reaching an upstream, by code. */
  refused: Partial<Record<TcpRefusalCode, number>>;
}

export interface StreamTimeouts {
  connectTimeoutMs: number;
  /** Both directions quiet this long: close. 0 disables. */
  idleTimeoutMs: number;
}

/** Log at most one line per code per this interval; the counters carry the rest. */
const LOG_INTERVAL_MS = 60_000;

export class TcpProxy {
  readonly stats: TcpStats = { connections: 0, active: 0, refused: {} };
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly logger: Logger,
  ) {}

  /** Closes `client` and records why. */
  refuse(client: Socket, code: TcpRefusalCode, fields: Record<string, unknown> = {}): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
    client.destroy();
    const now = Date.now();
    if (now - (this.lastLogged.get(code) ?? -Infinity) >= LOG_INTERVAL_MS) {
      this.lastLogged.set(code, now);
      this.logger.log('warn', 'tcp_connection_refused', { code, count: this.stats.refused[code], ...fields });
    }
  }

  /**
   * Routes `client` over the target listener's TCP route: draws the cluster, lets its balancer
   * pick an endpoint, connects within the cluster's connect timeout (retrying other endpoints on
   * connection errors when the route's retry policy says so), then joins the streams with the
   * route's idle timeout. `head` is what was already read from the client.
   */
  toTarget(client: Socket, snapshot: Snapshot, target: OutboundTarget, head: Buffer, where: Record<string, unknown>): void {
    this.stats.connections++;
    const tcp = snapshot.routes.routeTcp(target, this.ctx.random());
    if (tcp === undefined) return this.refuse(client, 'WEFT_ERR_NO_ROUTE', { service: target.service.name, port: target.listener.port, ...where });
    const cluster = snapshot.clusters.get(tcp.cluster);
    if (cluster === undefined) return this.refuse(client, 'WEFT_ERR_UNKNOWN_CLUSTER', { cluster: tcp.cluster, ...where });
    const policy = tcp.route.retryPolicy;
    const retries = policy.tcpRetryEvents.includes('connection-error') ? policy.maxRetries : 0;
    const idle = tcp.route.timeout.idleMs > 0 ? tcp.route.timeout.idleMs : cluster.def.idleTimeoutMs;
    const sourceIp = client.remoteAddress ?? '';
    client.pause();
    const attempt = (left: number): void => {
      const endpoint = cluster.pick({ headers: {}, sourceIp });
      if (endpoint === undefined) {
        cluster.stats.noEndpoint++;
        return this.refuse(client, 'WEFT_ERR_NO_HEALTHY_UPSTREAM', { cluster: cluster.name, ...where });
      }
      this.connectCluster(client, cluster, endpoint, head, idle, (code) => {
        if (left > 0 && !client.destroyed) attempt(left - 1);
        else this.refuse(client, code, { cluster: cluster.name, endpoint: endpoint.id, ...where });
      });
    };
    attempt(retries);
  }

  /** Joins `client` to `host:port` directly (local app, ALLOW_ALL passthrough). */
  toAddress(client: Socket, host: string, port: number, head: Buffer, timeouts: StreamTimeouts, failCode: TcpRefusalCode, where: Record<string, unknown>): void {
    this.stats.connections++;
    client.pause();
    const upstream = netConnect({ host, port, noDelay: true });
    this.join(client, upstream, 'connect', head, timeouts, {
      opened: () => undefined,
      closed: () => undefined,
      failed: () => this.refuse(client, failCode, { upstream: `${host}:${port}`, ...where }),
    });
  }

  private connectCluster(client: Socket, cluster: ClusterRuntime, endpoint: Endpoint, head: Buffer, idleMs: number, failed: (code: TcpRefusalCode) => void): void {
    const upstream = cluster.tls
      ? tlsConnect({ host: endpoint.address, port: endpoint.port, ...clientConnectOptions(cluster.tls) })
      : netConnect({ host: endpoint.address, port: endpoint.port, noDelay: true });
    this.join(client, upstream, cluster.tls ? 'secureConnect' : 'connect', head, { connectTimeoutMs: cluster.def.connectTimeoutMs, idleTimeoutMs: idleMs }, {
      opened: () => cluster.begin(endpoint),
      closed: () => cluster.end(endpoint),
      failed: (err) => {
        cluster.stats.connectFailures++;
        failed(cluster.tls && err.code !== 'ECONNREFUSED' && err.code !== 'ETIMEDOUT' ? 'WEFT_ERR_UPSTREAM_TLS' : 'WEFT_ERR_UPSTREAM_CONNECT');
      },
    });
  }

  private join(
    client: Socket,
    upstream: Socket,
    readyEvent: 'connect' | 'secureConnect',
    head: Buffer,
    timeouts: StreamTimeouts,
    hooks: { opened(): void; closed(): void; failed(err: NodeJS.ErrnoException): void },
  ): void {
    const { stats } = this.ctx;
    let state: 'connecting' | 'open' | 'done' = 'connecting';
    // net.connect has no connect timeout of its own; the socket timer covers the handshake too.
    if (timeouts.connectTimeoutMs > 0) {
      upstream.setTimeout(timeouts.connectTimeoutMs, () => {
        if (state === 'connecting') upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
      });
    }
    const clientGone = (): void => {
      if (state === 'connecting') {
        state = 'done';
        upstream.destroy();
      }
    };
    client.once('close', clientGone);
    client.on('error', () => client.destroy());
    upstream.once(readyEvent, () => {
      if (state !== 'connecting') return;
      state = 'open';
      client.off('close', clientGone);
      hooks.opened();
      this.stats.active++;
      stats.tunnels++;
      upstream.setTimeout(0);
      if (timeouts.idleTimeoutMs > 0) {
        // Idle means neither direction moved: each side's timer resets on its own traffic only,
        // so a byte in either direction refreshes both.
        const touch = (): void => {
          client.setTimeout(timeouts.idleTimeoutMs);
          upstream.setTimeout(timeouts.idleTimeoutMs);
        };
        const expire = (): void => {
          client.destroy();
          upstream.destroy();
        };
        client.setTimeout(timeouts.idleTimeoutMs, expire);
        upstream.setTimeout(timeouts.idleTimeoutMs, expire);
        client.on('data', touch);
        upstream.on('data', touch);
      }
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      let closed = false;
      const finish = (): void => {
        if (closed) return;
        closed = true;
        this.stats.active--;
        stats.tunnels--;
        hooks.closed();
        client.destroy();
        upstream.destroy();
      };
      client.once('close', finish);
      upstream.once('close', finish);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (state === 'connecting') {
        state = 'done';
        client.off('close', clientGone);
        hooks.failed(err);
      } else upstream.destroy();
    });
  }
}
