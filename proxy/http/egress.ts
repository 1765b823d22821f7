/**
 * The egress listener: the local app's outbound traffic. In explicit mode the app names a virtual
 * service in the Host header (or in an absolute-form request target when it uses HTTP_PROXY, or
 * in a CONNECT authority); in transparent mode iptables delivers the same requests. A name that
 * is not a service of the mesh is passed to its real destination under ALLOW_ALL and refused
 * under DROP_ALL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { clientConnectOptions } from '../tls/tls-options';
import { H1Upstream } from '../cluster/h1-upstream';
import { rawErrorResponse } from '../errors';
import type { RouteRequest } from '../routing/types';
import type { Snapshot } from '../config/config-store';
import { Exchange } from './forward';
import { peerAddress, splitHostPort, upstreamRequestHeaders } from './headers';
import { peerOf, type Listener } from './listener';
import { forwardToCluster, redirect, reply, runFilters, type ProxyContext, type RequestFilter } from './pipeline';
import { redirectedDestination } from '../transparent/transparent-egress';
import { serverPath } from './request-path';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
/** Connect timeout of CONNECT passthrough to destinations outside the mesh (Istio's default). */
const PASSTHROUGH_CONNECT_TIMEOUT_MS = 10_000;

/** How often pools to destinations outside the mesh are checked for being unused. */
const PASSTHROUGH_SWEEP_MS = 30_000;

/**
 * Keep-alive pools to destinations outside the mesh (ALLOW_ALL), one per host and port, created
 * on first use and forgotten once their connections have idled out.
 */
class PassthroughPools {
  private readonly pools = new Map<string, H1Upstream>();
  private sweeper: NodeJS.Timeout | undefined;

  get(host: string, port: number): H1Upstream {
    const key = `${host}|${port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new H1Upstream({ host, port, tls: undefined, maxConnections: 64, connectTimeoutMs: PASSTHROUGH_CONNECT_TIMEOUT_MS, idleTimeoutMs: 4_000, maxRequestsPerConnection: 0 });
      this.pools.set(key, pool);
      if (this.sweeper === undefined) {
        this.sweeper = setInterval(() => this.sweep(), PASSTHROUGH_SWEEP_MS);
        this.sweeper.unref();
      }
    }
    return pool;
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  private sweep(): void {
    for (const [key, pool] of this.pools) if (pool.size === 0) this.pools.delete(key);
  }
}

/** Bounds of traffic to destinations outside the mesh, which no route's timeouts cover. */
export interface PassthroughLimits {
  /** Time to the response head; 0 is none. */
  responseTimeoutMs: number;
  /** Idle limit of CONNECT tunnels and upgraded (WebSocket) connections; 0 is none. */
  idleTimeoutMs: number;
}

export class EgressHandler {
  private readonly passthrough = new PassthroughPools();
  private listener: Listener | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly passthroughLimits: PassthroughLimits,
    private readonly filters: readonly RequestFilter[] = [],
  ) {}

  /** The listener this handler serves (CONNECT tunnels are handed back to it). */
  attach(listener: Listener): void {
    this.listener = listener;
  }

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx } = this;
    const traffic = ctx.stats.egress;
    traffic.requests++;
    const snapshot = ctx.store.current!;
    const url = req.url ?? '/';
    // Absolute form is what an HTTP_PROXY client sends: its authority replaces Host (RFC 9112
    // §3.2.2). Such a proxy request is plain http (https goes through CONNECT).
    const absolute = url.charCodeAt(0) !== 47 /* / */ && url !== '*';
    const path = absolute && !/^http:\/\//i.test(url) ? undefined : serverPath(req);
    const hp = path === undefined ? undefined : splitHostPort(req.headers.host ?? '');
    if (hp === undefined) return reply(traffic, res, 'WEFT_ERR_BAD_TARGET', true);
    const host = hp.host;
    // Transparent mode: the port the app dialled, when the redirect recorded it, beats Host's.
    const port = absolute ? hp.port : (redirectedDestination(req.socket)?.port ?? hp.port);
    const headers = req.headers;
    const peer = peerAddress(req.socket.remoteAddress);
    const routeReq: RouteRequest = { method: req.method ?? 'GET', path: path!, headers, scheme: 'http', host, port };
    if (this.filters.length === 0) return this.dispatch(snapshot, req, res, routeReq, absolute, peer);
    runFilters(this.filters, req, res, { listener: 'egress', peer: peerOf(req), peerAddress: peer, snapshot }, traffic, () => this.dispatch(snapshot, req, res, routeReq, absolute, peer));
  };

  /** CONNECT: tunnels to mesh services (HTTP inside is routed like any request) or, under ALLOW_ALL, anywhere. */
  readonly onConnect = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const { ctx } = this;
    this.listener?.track(socket);
    socket.on('error', () => socket.destroy());
    const hp = splitHostPort(req.url ?? '');
    if (hp === undefined || hp.port === undefined) {
      socket.end(rawErrorResponse('WEFT_ERR_BAD_TARGET'));
      return;
    }
    const snapshot = ctx.store.current!;
    const target = snapshot.routes.outbound(hp.host, hp.port);
    if (target !== undefined) {
      if (target.listener.protocol === 'tcp') {
        const tcp = snapshot.routes.routeTcp(target, ctx.random());
        const cluster = tcp ? snapshot.clusters.get(tcp.cluster) : undefined;
        const endpoint = cluster?.pick({ headers: req.headers, sourceIp: peerAddress(req.socket.remoteAddress) });
        if (!cluster || !endpoint) {
          socket.end(rawErrorResponse(tcp ? 'WEFT_ERR_NO_HEALTHY_UPSTREAM' : 'WEFT_ERR_NO_ROUTE'));
          return;
        }
        const upstream = cluster.tls
          ? tlsConnect({ host: endpoint.address, port: endpoint.port, ...clientConnectOptions(cluster.tls) })
          : netConnect({ host: endpoint.address, port: endpoint.port });
        const routeIdleMs = tcp?.route.timeout.idleMs ?? 0;
        const idleMs = routeIdleMs > 0 ? routeIdleMs : cluster.def.idleTimeoutMs;
        this.tunnel(socket, upstream, head, cluster.tls ? 'secureConnect' : 'connect', { connectMs: cluster.def.connectTimeoutMs, idleMs }, {
          opened: () => cluster.begin(endpoint),
          closed: () => cluster.end(endpoint),
        });
        return;
      }
      // HTTP service: answer the CONNECT, then parse the tunnel's requests as if the app had
      // sent them to this port, so they get routes, weights and mTLS like any other request.
      socket.write(ESTABLISHED);
      ctx.stats.tunnels++;
      socket.once('close', () => ctx.stats.tunnels--);
      this.listener?.serveTunnelled(socket as Socket, head);
      return;
    }
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      ctx.stats.egressDenied++;
      socket.end(rawErrorResponse('WEFT_ERR_EGRESS_DENIED'));
      return;
    }
    if (this.isSelf(hp.host, hp.port)) {
      socket.end(rawErrorResponse('WEFT_ERR_EGRESS_LOOP'));
      return;
    }
    ctx.stats.egressPassthrough++;
    this.tunnel(socket, netConnect({ host: hp.host, port: hp.port }), head, 'connect', { connectMs: PASSTHROUGH_CONNECT_TIMEOUT_MS, idleMs: this.passthroughLimits.idleTimeoutMs });
  };

  close(): Promise<void> {
    return this.passthrough.close();
  }

  private dispatch(snapshot: Snapshot, req: IncomingMessage, res: ServerResponse, routeReq: RouteRequest, absolute: boolean, peer: string): void {
    const { ctx } = this;
    const traffic = ctx.stats.egress;
    const forwarding = { peerAddress: peer, trustedHops: ctx.trustedHops, proto: 'http' as const, stripProxyAuthorization: absolute };
    const target = snapshot.routes.outbound(routeReq.host, routeReq.port);
    if (target !== undefined) {
      const decision = snapshot.routes.route(target, routeReq, ctx.random());
      if (decision === undefined) {
        // An HTTP request to a TCP listener rides its TCP route.
        const tcp = target.listener.protocol === 'tcp' ? snapshot.routes.routeTcp(target, ctx.random()) : undefined;
        if (tcp === undefined) return reply(traffic, res, 'WEFT_ERR_NO_ROUTE');
        const authority = (routeReq.headers.host as string | undefined) ?? routeReq.host;
        return forwardToCluster(ctx, snapshot, req, res, traffic, { cluster: tcp.cluster, path: routeReq.path, authority, route: undefined }, forwarding);
      }
      if (decision.kind === 'redirect') return redirect(traffic, res, decision);
      return forwardToCluster(ctx, snapshot, req, res, traffic, decision, forwarding);
    }
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      ctx.stats.egressDenied++;
      return reply(traffic, res, 'WEFT_ERR_EGRESS_DENIED');
    }
    const port = routeReq.port ?? 80;
    if (this.isSelf(routeReq.host, port)) return reply(traffic, res, 'WEFT_ERR_EGRESS_LOOP');
    ctx.stats.egressPassthrough++;
    const hostPart = routeReq.host.includes(':') ? `[${routeReq.host}]` : routeReq.host;
    const authority = (routeReq.headers.host as string | undefined) ?? `${hostPart}:${port}`;
    const headers = upstreamRequestHeaders(req, authority, forwarding);
    new Exchange(req, res, {
      traffic,
      cluster: undefined,
      endpoint: undefined,
      responseOps: undefined,
      stripResponseControl: true,
      connectErrorCode: 'WEFT_ERR_UPSTREAM_CONNECT',
      timeoutMs: 0,
      responseTimeoutMs: this.passthroughLimits.responseTimeoutMs,
      maxBodyBytes: ctx.maxBodyBytes,
      draining: ctx.draining,
      tunnelIdleMs: this.passthroughLimits.idleTimeoutMs,
    }).start(this.passthrough.get(routeReq.host, port), routeReq.path, headers);
  }

  private isSelf(host: string, port: number): boolean {
    return port === this.listener?.port && LOOPBACK.has(host);
  }

  /** Joins the client's CONNECT socket to an upstream socket once it is connected. */
  /**
   * Joins a CONNECT client to `upstream` once it is ready. Both ends are bounded: the upstream must
   * connect (and finish TLS) within `connectMs`, and a tunnel quiet in both directions for
   * `idleMs` is closed, so a peer cannot hold sockets open forever.
   */
  private tunnel(
    client: Duplex,
    upstream: Socket,
    head: Buffer,
    readyEvent: 'connect' | 'secureConnect',
    limits: { connectMs: number; idleMs: number },
    hooks?: { opened(): void; closed(): void },
  ): void {
    const stats = this.ctx.stats;
    let established = false;
    if (limits.connectMs > 0) {
      upstream.setTimeout(limits.connectMs, () => {
        if (!established) upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
      });
    }
    upstream.once(readyEvent, () => {
      established = true;
      stats.tunnels++;
      hooks?.opened();
      upstream.once('close', () => {
        stats.tunnels--;
        hooks?.closed();
      });
      // The upstream socket's timer now measures idleness: reads and writes on it (so traffic
      // either way through the tunnel) reset it.
      upstream.setTimeout(limits.idleMs, () => upstream.destroy());
      client.write(ESTABLISHED);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!established) {
        const tlsFailure = readyEvent === 'secureConnect' && err.code !== 'ECONNREFUSED' && err.code !== 'ETIMEDOUT';
        client.end(rawErrorResponse(tlsFailure ? 'WEFT_ERR_UPSTREAM_TLS' : 'WEFT_ERR_UPSTREAM_CONNECT'));
      } else client.destroy();
    });
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
  }

}
