/**
 * The inbound listener: peers (other sidecars, or anything when TLS is off) -> the local app.
 * Which app port a request is for comes from `x-weft-target-port` when the node has several
 * listeners, and that header is believed only from a peer that proved a mesh identity (mTLS).
 * Every `x-weft-*` header is removed before the app sees the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import { H1Upstream } from '../cluster/h1-upstream';
import { H2Upstream, type Upstream } from '../cluster/h2-upstream';
import { Exchange } from './forward';
import { boundedTimeout } from './grpc';
import { peerAddress, upstreamRequestHeaders } from './headers';
import { peerOf, upgradeHeadOf, type PeerIdentity } from './listener';
import type { Snapshot } from '../config/config-store';
import { reply, runFilters, type ProxyContext, type RequestFilter } from './pipeline';
import { serverPath } from './request-path';

/** The app port speaks HTTP/2 (cleartext, prior knowledge) when its listener is http2 or grpc. */
const H2_APP_PROTOCOLS = new Set(['http2', 'grpc']);

/** Connections to one app port at most (Envoy's default circuit-breaker limit). */
const APP_MAX_CONNECTIONS = 1024;

export class InboundHandler {
  /** One keep-alive pool per app port and protocol, kept for the sidecar's lifetime. */
  private readonly appPools = new Map<number, H1Upstream>();
  private readonly h2AppPools = new Map<number, H2Upstream>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly appHost: string,
    private readonly filters: readonly RequestFilter[] = [],
  ) {}

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx } = this;
    const traffic = ctx.stats.inbound;
    traffic.requests++;
    const snapshot = ctx.store.current!;
    const ports = snapshot.inboundPorts;
    if (ports.length === 0) return reply(traffic, res, 'WEFT_ERR_NO_ROUTE');
    const peer = peerOf(req);
    let target = ports[0];
    const asked = peer.authenticated ? req.headers[CONTROL_HEADERS.targetPort] : undefined;
    if (asked !== undefined) {
      const wanted = Number(asked);
      const found = ports.find((p) => p.listenerPort === wanted);
      if (found === undefined) return reply(traffic, res, 'WEFT_ERR_BAD_TARGET');
      target = found;
    }
    const path = serverPath(req);
    if (path === undefined) return reply(traffic, res, 'WEFT_ERR_BAD_TARGET', true);
    const address = peerAddress(req.socket.remoteAddress);
    if (this.filters.length === 0) return this.forward(req, res, path, target, peer, address);
    runFilters(this.filters, req, res, { listener: 'inbound', peer, peerAddress: address, snapshot }, traffic, () => this.forward(req, res, path, target, peer, address));
  };

  private forward(req: IncomingMessage, res: ServerResponse, path: string, target: Snapshot['inboundPorts'][number], peer: PeerIdentity, address: string): void {
    const { ctx } = this;
    const listener = target.listener;
    const headers = upstreamRequestHeaders(req, req.headers.host ?? `${this.appHost}:${target.appPort}`, {
      peerAddress: address,
      // Another sidecar's forwarding chain is as trustworthy as the sidecar itself.
      trustedHops: peer.authenticated ? Infinity : ctx.trustedHops,
      proto: peer.encrypted ? 'https' : 'http',
      stripProxyAuthorization: false,
    });
    new Exchange(req, res, {
      traffic: ctx.stats.inbound,
      cluster: undefined,
      endpoint: undefined,
      responseOps: undefined,
      stripResponseControl: true,
      connectErrorCode: 'WEFT_ERR_APP_UNREACHABLE',
      timeoutMs: boundedTimeout(target.timeoutMs, req.headers),
      maxBodyBytes: ctx.maxBodyBytes,
      draining: ctx.draining,
      tunnelIdleMs: listener?.timeout.idleMs,
    }).start(this.upstream(listener?.protocol, target.appPort, upgradeHeadOf(req) !== undefined), path, headers);
  }

  async close(force = false): Promise<void> {
    const pools: Upstream[] = [...this.appPools.values(), ...this.h2AppPools.values()];
    this.appPools.clear();
    this.h2AppPools.clear();
    await Promise.all(pools.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }

  /** The app port's upstream in its listener's protocol (upgrades stay HTTP/1.1). */
  private upstream(protocol: string | undefined, appPort: number, upgrade: boolean): Upstream {
    if (upgrade || protocol === undefined || !H2_APP_PROTOCOLS.has(protocol)) return this.pool(appPort);
    let h2 = this.h2AppPools.get(appPort);
    if (h2 === undefined) {
      h2 = new H2Upstream(`http://${this.hostPart()}:${appPort}`, { tls: undefined, connectTimeoutMs: 5_000, idleTimeoutMs: 4_000, maxSessions: 2 });
      this.h2AppPools.set(appPort, h2);
    }
    return h2;
  }

  private hostPart(): string {
    return this.appHost.includes(':') ? `[${this.appHost}]` : this.appHost;
  }

  private pool(port: number): H1Upstream {
    let pool = this.appPools.get(port);
    if (pool === undefined) {
      // Idle connections close before a Node app's own 5 s keep-alive timeout would close them.
      pool = new H1Upstream({ host: this.appHost, port, tls: undefined, maxConnections: APP_MAX_CONNECTIONS, connectTimeoutMs: 5_000, idleTimeoutMs: 4_000, maxRequestsPerConnection: 0 });
      this.appPools.set(port, pool);
    }
    return pool;
  }
}
