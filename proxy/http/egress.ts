/**
 * The egress listener: the local app's outbound traffic. In explicit mode the app names a virtual
 * service in the Host header (or in an absolute-form request target when it uses HTTP_PROXY, or
 * in a CONNECT authority); in transparent mode iptables delivers the same requests. A name that
 * is not a service of the mesh is passed to its real destination under ALLOW_ALL and refused
 * under DROP_ALL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { H1Upstream } from '../cluster/h1-upstream';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import { rawErrorResponse } from '../errors';
import { upstreamDispatch } from '../exchange/attempt';
import { RESPONSE_FLAGS } from '../exchange/record';
import { requestBody, upgradeHeadOf } from '../exchange/respond';
import { Responder } from '../exchange/responder';
import { ProxyRequest, type Dispatch } from '../exchange/stack';
import { splitHostPort, upstreamRequestHeaders } from '../message/headers';
import { serverPath } from '../message/request-path';
import type { RouteRequest } from '../routing/types';
import type { TcpProxy, TunnelReply } from '../tcp/tcp-proxy';
import { redirectedDestination } from '../transparent/transparent-egress';
import type { Listener } from './listener';
import { forwardToCluster } from './pipeline';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
/** Connect timeout of CONNECT passthrough to destinations outside the mesh (Istio's default). */
const PASSTHROUGH_CONNECT_TIMEOUT_MS = 10_000;

/** How a CONNECT is answered: `200 Connection Established`, or the refusal as an HTTP error. */
const CONNECT_REPLY: TunnelReply = {
  established: (socket) => socket.write(ESTABLISHED),
  refused: (socket, code) => socket.end(rawErrorResponse(code)),
};

/** How often pools to destinations outside the mesh are checked for being unused. */
const PASSTHROUGH_SWEEP_MS = 30_000;

/**
 * Keep-alive pools to destinations outside the mesh (ALLOW_ALL), one per host and port, created
 * on first use and forgotten once their connections have idled out.
 */
class PassthroughPools {
  private readonly pools = new Map<string, { pool: H1Upstream; dispatch: Dispatch }>();
  private sweeper: NodeJS.Timeout | undefined;

  /** The bottom dispatch to `host:port`'s pool. */
  get(host: string, port: number): Dispatch {
    const key = `${host}|${port}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const pool = new H1Upstream({ host, port, tls: undefined, maxConnections: 64, connectTimeoutMs: PASSTHROUGH_CONNECT_TIMEOUT_MS, idleTimeoutMs: 4_000, maxRequestsPerConnection: 0 });
      entry = { pool, dispatch: upstreamDispatch(pool) };
      this.pools.set(key, entry);
      if (this.sweeper === undefined) {
        this.sweeper = setInterval(() => this.sweep(), PASSTHROUGH_SWEEP_MS);
        this.sweeper.unref();
      }
    }
    return entry.dispatch;
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.pool.close()));
  }

  private sweep(): void {
    for (const [key, entry] of this.pools) if (entry.pool.size === 0) this.pools.delete(key);
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
    private readonly tcp: TcpProxy,
    private readonly passthroughLimits: PassthroughLimits,
  ) {}

  /** The listener this handler serves (CONNECT tunnels are handed back to it). */
  attach(listener: Listener): void {
    this.listener = listener;
  }

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx } = this;
    const responder = new Responder(ctx, 'egress', req, res);
    const snapshot = ctx.store.current!;
    const url = req.url ?? '/';
    // Absolute form is what an HTTP_PROXY client sends: its authority replaces Host (RFC 9112
    // §3.2.2). Such a proxy request is plain http (https goes through CONNECT).
    const absolute = url.charCodeAt(0) !== 47 /* / */ && url !== '*';
    const path = absolute && !/^http:\/\//i.test(url) ? undefined : serverPath(req);
    const hp = path === undefined ? undefined : splitHostPort(req.headers.host ?? '');
    if (hp === undefined) return responder.error('WEFT_ERR_BAD_TARGET', RESPONSE_FLAGS.downstreamProtocolError, true);
    // Transparent mode: the port the app dialled, when the redirect recorded it, beats Host's.
    const port = absolute ? hp.port : (redirectedDestination(req.socket)?.port ?? hp.port);
    const routeReq: RouteRequest = { method: req.method ?? 'GET', path: path!, headers: req.headers, scheme: 'http', host: hp.host, port };
    this.dispatch(snapshot, req, responder, routeReq, absolute);
  };

  /** CONNECT: tunnels to mesh services (HTTP inside is routed like any request) or, under ALLOW_ALL, anywhere. */
  readonly onConnect = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const { ctx } = this;
    this.listener?.track(socket);
    socket.on('error', () => socket.destroy());
    const hp = splitHostPort(req.url ?? '');
    const snapshot = ctx.store.current!;
    const target = hp?.port === undefined ? undefined : snapshot.routes.outbound(hp.host, hp.port);
    if (target !== undefined && target.listener.protocol !== 'tcp') {
      // HTTP service: answer the CONNECT, then parse the tunnel's requests as if the app had
      // sent them to this port, so they get routes, weights and mTLS like any other request
      // (each with its own record).
      socket.write(ESTABLISHED);
      ctx.stats.tunnels++;
      socket.once('close', () => ctx.stats.tunnels--);
      this.listener?.serveTunnelled(socket as Socket, head);
      return;
    }
    const record = this.tcp.begin(socket, 'egress');
    record.method = 'CONNECT';
    record.authority = req.url ?? '';
    if (hp === undefined || hp.port === undefined) return this.tcp.refuse(socket, record, 'WEFT_ERR_BAD_TARGET', { listener: 'egress', target: req.url }, CONNECT_REPLY);
    const where = { listener: 'egress', target: req.url };
    if (target !== undefined) return this.tcp.toTarget(socket, record, snapshot, target, head, where, CONNECT_REPLY);
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      ctx.stats.egressDenied++;
      return this.tcp.refuse(socket, record, 'WEFT_ERR_EGRESS_DENIED', where, CONNECT_REPLY);
    }
    if (this.isSelf(hp.host, hp.port)) return this.tcp.refuse(socket, record, 'WEFT_ERR_EGRESS_LOOP', where, CONNECT_REPLY);
    ctx.stats.egressPassthrough++;
    this.tcp.toAddress(
      socket,
      record,
      hp.host,
      hp.port,
      head,
      { connectTimeoutMs: PASSTHROUGH_CONNECT_TIMEOUT_MS, idleTimeoutMs: this.passthroughLimits.idleTimeoutMs },
      'WEFT_ERR_UPSTREAM_CONNECT',
      where,
      CONNECT_REPLY,
    );
  };

  close(): Promise<void> {
    return this.passthrough.close();
  }

  private dispatch(snapshot: Snapshot, req: IncomingMessage, responder: Responder, routeReq: RouteRequest, absolute: boolean): void {
    const { ctx } = this;
    const peer = responder.record.peerAddress;
    const forwarding = { peerAddress: peer, trustedHops: ctx.trustedHops, proto: 'http' as const, stripProxyAuthorization: absolute };
    const target = snapshot.routes.outbound(routeReq.host, routeReq.port);
    if (target !== undefined) {
      responder.record.virtualService = target.service.name;
      const decision = snapshot.routes.route(target, routeReq, ctx.random());
      if (decision === undefined) {
        // An HTTP request to a TCP listener rides its TCP route.
        const tcp = target.listener.protocol === 'tcp' ? snapshot.routes.routeTcp(target, ctx.random()) : undefined;
        if (tcp === undefined) return responder.error('WEFT_ERR_NO_ROUTE', RESPONSE_FLAGS.noRoute);
        const authority = (routeReq.headers.host as string | undefined) ?? routeReq.host;
        return forwardToCluster(ctx, snapshot, req, responder, { cluster: tcp.cluster, path: routeReq.path, authority, route: undefined }, forwarding);
      }
      if (decision.kind === 'redirect') return responder.redirect(decision.status, decision.location);
      return forwardToCluster(ctx, snapshot, req, responder, decision, forwarding);
    }
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      ctx.stats.egressDenied++;
      return responder.error('WEFT_ERR_EGRESS_DENIED', RESPONSE_FLAGS.localRefusal);
    }
    const port = routeReq.port ?? 80;
    if (this.isSelf(routeReq.host, port)) return responder.error('WEFT_ERR_EGRESS_LOOP', RESPONSE_FLAGS.localRefusal);
    ctx.stats.egressPassthrough++;
    const hostPart = routeReq.host.includes(':') ? `[${routeReq.host}]` : routeReq.host;
    const authority = (routeReq.headers.host as string | undefined) ?? `${hostPart}:${port}`;
    const headers = upstreamRequestHeaders(req, authority, forwarding);
    const record = responder.record;
    record.requestId = headers['x-request-id'] as string;
    ctx.tracer.propagate(record, req.headers, headers);
    const upgrade = upgradeHeadOf(req) !== undefined ? (req.headers.upgrade as string | undefined) : undefined;
    const request = new ProxyRequest(req.method ?? 'GET', routeReq.path, headers, requestBody(req), upgrade, { headers: req.headers, sourceIp: peer }, record);
    responder.forward(this.passthrough.get(routeReq.host, port), request, {
      timeoutMs: 0,
      responseTimeoutMs: this.passthroughLimits.responseTimeoutMs,
      responseOps: undefined,
      stripControl: true,
      connectErrorCode: 'WEFT_ERR_UPSTREAM_CONNECT',
      tunnelIdleMs: this.passthroughLimits.idleTimeoutMs,
      maxBodyBytes: ctx.maxBodyBytes,
    });
  }

  private isSelf(host: string, port: number): boolean {
    return port === this.listener?.port && LOOPBACK.has(host);
  }
}
