/**
 * Byte-stream proxying: joins a client connection to an upstream one through the sidecar's one
 * tunnel (proxy/cluster/tunnel.ts). Used by TCP listeners (inbound: peer sidecar -> local app),
 * transparent egress (app -> cluster by TCP route, or the original destination / SNI host under
 * ALLOW_ALL) and CONNECT (app -> TCP service or destination outside the mesh). A byte stream has
 * no place for an error response, so a refusal closes the connection (CONNECT first answers
 * with the error), counts it and logs it by code (rate-limited). Every connection ends in one
 * completion record.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import { openTunnel, type TunnelBytes, type TunnelLimits } from '../cluster/tunnel';
import type { FailureKind } from '../cluster/upstream-errors';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import type { Endpoint } from '../endpoints/endpoint';
import type { WeftErrorCode } from '../errors';
import { CompletionRecord, RESPONSE_FLAGS, type ListenerKind } from '../exchange/record';
import { peerAddress } from '../message/headers';
import type { OutboundTarget } from '../routing/types';
import { peerOfSocket } from '../tls/peer-identity';
import { clientConnectOptions } from '../tls/tls-options';

/** Codes a byte-stream refusal is logged and counted under. */
export type TcpRefusalCode = Extract<
  WeftErrorCode,
  | 'WEFT_ERR_ORIGINAL_DST_UNAVAILABLE'
  | 'WEFT_ERR_EGRESS_DENIED'
  | 'WEFT_ERR_EGRESS_LOOP'
  | 'WEFT_ERR_NO_ROUTE'
  | 'WEFT_ERR_UNKNOWN_CLUSTER'
  | 'WEFT_ERR_NO_HEALTHY_UPSTREAM'
  | 'WEFT_ERR_UPSTREAM_CONNECT'
  | 'WEFT_ERR_UPSTREAM_TLS'
  | 'WEFT_ERR_APP_UNREACHABLE'
  | 'WEFT_ERR_TCP_LISTENER_AMBIGUOUS'
  | 'WEFT_ERR_BAD_TARGET'
  | 'WEFT_ERR_POLICY_DENIED'
  | 'WEFT_ERR_RATE_LIMITED'
>;

/** Connection counters of the TCP paths (also reflected in the sidecar and cluster stats). */
export interface TcpStats {
  /** Connections accepted for byte-stream proxying. */
  connections: number;
  /** Joined connections currently open. */
  active: number;
  /** Connections closed without reaching an upstream, by code. */
  refused: Partial<Record<TcpRefusalCode, number>>;
}

/**
 * How a connection that asked for its tunnel (CONNECT) is answered; other byte streams get no
 * answer, only a close.
 */
export interface TunnelReply {
  established(socket: Duplex): void;
  refused(socket: Duplex, code: TcpRefusalCode): void;
}

/** Response flag of a refusal code, for the record. */
const REFUSAL_FLAGS: Partial<Record<TcpRefusalCode, string>> = {
  WEFT_ERR_NO_ROUTE: RESPONSE_FLAGS.noRoute,
  WEFT_ERR_UNKNOWN_CLUSTER: RESPONSE_FLAGS.noRoute,
  WEFT_ERR_TCP_LISTENER_AMBIGUOUS: RESPONSE_FLAGS.noRoute,
  WEFT_ERR_NO_HEALTHY_UPSTREAM: RESPONSE_FLAGS.noHealthyUpstream,
  WEFT_ERR_UPSTREAM_CONNECT: RESPONSE_FLAGS.upstreamConnectFailure,
  WEFT_ERR_UPSTREAM_TLS: RESPONSE_FLAGS.upstreamConnectFailure,
  WEFT_ERR_APP_UNREACHABLE: RESPONSE_FLAGS.upstreamConnectFailure,
  WEFT_ERR_EGRESS_DENIED: RESPONSE_FLAGS.localRefusal,
  WEFT_ERR_EGRESS_LOOP: RESPONSE_FLAGS.localRefusal,
  WEFT_ERR_ORIGINAL_DST_UNAVAILABLE: RESPONSE_FLAGS.localRefusal,
  WEFT_ERR_BAD_TARGET: RESPONSE_FLAGS.downstreamProtocolError,
  WEFT_ERR_POLICY_DENIED: RESPONSE_FLAGS.policyDenied,
  WEFT_ERR_RATE_LIMITED: RESPONSE_FLAGS.rateLimited,
};

export class TcpProxy {
  readonly stats: TcpStats = { connections: 0, active: 0, refused: {} };

  constructor(private readonly ctx: ProxyContext) {}

  /** A record for a byte stream from `client`, counted as a request of its listener. */
  begin(client: Socket | Duplex, listener: ListenerKind): CompletionRecord {
    this.stats.connections++;
    const record = new CompletionRecord('tcp', listener, peerAddress((client as Socket).remoteAddress), peerOfSocket(client));
    record.protocol = 'TCP';
    const traffic = this.ctx.stats[listener];
    traffic.requests++;
    traffic.active++;
    return record;
  }

  /** Closes `client` (after answering it, for CONNECT), records why, and ends its record. */
  refuse(client: Duplex, record: CompletionRecord, code: TcpRefusalCode, fields: Record<string, unknown> = {}, reply?: TunnelReply): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
    if (reply !== undefined) reply.refused(client, code);
    else client.destroy();
    record.errorCode = code;
    const flag = REFUSAL_FLAGS[code];
    if (flag !== undefined) record.flag(flag);
    this.finish(record, undefined);
    this.ctx.events.log('warn', 'tcp_connection_refused', code, () => ({ code, count: this.stats.refused[code], ...fields }));
  }

  /**
   * Routes `client` over the target listener's TCP route: draws the cluster, lets its balancer
   * pick an endpoint, connects within the cluster's connect timeout (retrying other endpoints on
   * connection errors when the route's retry policy says so), then joins the streams with the
   * route's idle timeout. `head` is what was already read from the client.
   */
  toTarget(client: Duplex, record: CompletionRecord, snapshot: Snapshot, target: OutboundTarget, head: Buffer, where: Record<string, unknown>, reply?: TunnelReply): void {
    const tcp = snapshot.routes.routeTcp(target, this.ctx.random());
    if (tcp === undefined) return this.refuse(client, record, 'WEFT_ERR_NO_ROUTE', { service: target.service.name, port: target.listener.port, ...where }, reply);
    record.route = tcp.route.name;
    const cluster = snapshot.clusters.get(tcp.cluster);
    if (cluster === undefined) return this.refuse(client, record, 'WEFT_ERR_UNKNOWN_CLUSTER', { cluster: tcp.cluster, ...where }, reply);
    record.cluster = cluster.name;
    const policy = tcp.route.retryPolicy;
    const retries = policy.tcpRetryEvents.includes('connection-error') ? policy.maxRetries : 0;
    const idleMs = tcp.route.timeout.idleMs > 0 ? tcp.route.timeout.idleMs : cluster.def.idleTimeoutMs;
    const sourceIp = record.peerAddress;
    const attempt = (left: number): void => {
      const endpoint = cluster.pick({ headers: {}, sourceIp });
      if (endpoint === undefined) {
        cluster.stats.noEndpoint++;
        return this.refuse(client, record, 'WEFT_ERR_NO_HEALTHY_UPSTREAM', { cluster: cluster.name, ...where }, reply);
      }
      record.attempts++;
      record.endpoint = `${endpoint.address}:${endpoint.port}`;
      this.toEndpoint(client, record, cluster, endpoint, head, idleMs, reply, (code) => {
        if (left > 0 && !client.destroyed) attempt(left - 1);
        else this.refuse(client, record, code, { cluster: cluster.name, endpoint: endpoint.id, ...where }, reply);
      });
    };
    attempt(retries);
  }

  /** Joins `client` to `host:port` directly (local app, ALLOW_ALL passthrough). */
  toAddress(client: Duplex, record: CompletionRecord, host: string, port: number, head: Buffer, limits: TunnelLimits, failCode: TcpRefusalCode, where: Record<string, unknown>, reply?: TunnelReply): void {
    record.attempts++;
    record.endpoint = `${host}:${port}`;
    const upstream = netConnect({ host, port, noDelay: true });
    openTunnel(client, upstream, false, head, limits, {
      opened: () => this.opened(client, reply),
      failed: () => this.refuse(client, record, failCode, { upstream: `${host}:${port}`, ...where }, reply),
      closed: (bytes) => this.closed(record, bytes),
    });
  }

  private toEndpoint(
    client: Duplex,
    record: CompletionRecord,
    cluster: ClusterRuntime,
    endpoint: Endpoint,
    head: Buffer,
    idleMs: number,
    reply: TunnelReply | undefined,
    failed: (code: TcpRefusalCode) => void,
  ): void {
    const tls = cluster.tls;
    const upstream = tls ? tlsConnect({ host: endpoint.address, port: endpoint.port, ...clientConnectOptions(tls) }) : netConnect({ host: endpoint.address, port: endpoint.port, noDelay: true });
    const startedAt = performance.now();
    const outcome = (failure: FailureKind | undefined): void =>
      cluster.reportOutcome({ endpoint, status: 0, failure, startedAt, endedAt: performance.now(), responseBytes: 0 });
    openTunnel(client, upstream, tls !== undefined, head, { connectTimeoutMs: cluster.def.connectTimeoutMs, idleTimeoutMs: idleMs }, {
      opened: () => {
        cluster.begin(endpoint);
        this.opened(client, reply);
      },
      failed: (kind) => {
        cluster.stats.connectFailures++;
        if (kind === 'tls') {
          cluster.stats.tlsFailures++;
          cluster.onTlsFailure?.(`${endpoint.address}:${endpoint.port}`, undefined);
        }
        outcome(kind);
        failed(kind === 'tls' ? 'WEFT_ERR_UPSTREAM_TLS' : 'WEFT_ERR_UPSTREAM_CONNECT');
      },
      closed: (bytes) => {
        cluster.end(endpoint);
        outcome(undefined);
        this.closed(record, bytes);
      },
    });
  }

  private opened(client: Duplex, reply: TunnelReply | undefined): void {
    this.stats.active++;
    this.ctx.stats.tunnels++;
    reply?.established(client);
  }

  private closed(record: CompletionRecord, bytes: TunnelBytes): void {
    this.stats.active--;
    this.ctx.stats.tunnels--;
    this.finish(record, bytes);
  }

  private finish(record: CompletionRecord, bytes: TunnelBytes | undefined): void {
    if (bytes !== undefined) {
      record.bytesReceived = bytes.sent;
      record.bytesSent = bytes.received;
    }
    record.durationMs = performance.now() - record.start;
    this.ctx.stats[record.listener].active--;
    this.ctx.complete(record);
  }
}
