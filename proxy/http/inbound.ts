/**
 * The inbound listener: peers (other sidecars, or anything when TLS is off) -> the local app.
 * Which app port a request is for comes from `x-weft-target-port` when the node has several
 * listeners, and that header is believed only from a peer that proved a mesh identity (mTLS).
 * Every request passes the node's compiled inbound policy before it reaches the app, and every
 * `x-weft-*` header is removed before the app sees it.
 *
 * A listener with a `healthCheck` answers GET and HEAD of exactly its check's path itself, from
 * the sidecar's cached view of the local app (Envoy's health-check filter without pass-through):
 * 200 while the app is healthy, 503 while it is not, not yet known, or the sidecar drains. Callers'
 * active checks therefore never reach the app, however many callers there are. The answer comes
 * before the inbound policy: a caller's health check must not fail because a policy written for
 * its traffic does not name the health path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import { H1Upstream } from '../cluster/h1-upstream';
import { H2Upstream, type Upstream } from '../cluster/h2-upstream';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import { upstreamDispatch } from '../exchange/attempt';
import { RESPONSE_FLAGS } from '../exchange/record';
import { requestBody, upgradeHeadOf } from '../exchange/respond';
import { Responder } from '../exchange/responder';
import { ProxyRequest, type Dispatch } from '../exchange/stack';
import type { AppHealth } from '../health/app-health';
import { boundedTimeout } from '../message/grpc';
import { upstreamRequestHeaders } from '../message/headers';
import { serverPath } from '../message/request-path';
import { FORWARDED_CLIENT_CERT, forwardedClientCert, peerOf, type PeerIdentity } from '../tls/peer-identity';
import { checkPolicy } from './pipeline';

/** The app port speaks HTTP/2 (cleartext, prior knowledge) when its listener is http2 or grpc. */
const H2_APP_PROTOCOLS = new Set(['http2', 'grpc']);

/** Connections to one app port at most (Envoy's default circuit-breaker limit). */
const APP_MAX_CONNECTIONS = 1024;

/** Check protocols whose path the inbound listener answers (gRPC health requests go to the app). */
const ANSWERED_CHECKS = new Set(['http', 'http2']);

type InboundPort = Snapshot['inboundPorts'][number];

export class InboundHandler {
  /** One keep-alive pool per app port and protocol, kept for the sidecar's lifetime. */
  private readonly appPools = new Map<number, H1Upstream>();
  private readonly h2AppPools = new Map<number, H2Upstream>();
  /** Each pool's bottom dispatch, made once. */
  private readonly dispatches = new WeakMap<Upstream, Dispatch>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly appHost: string,
    private readonly appHealth?: AppHealth,
  ) {}

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx } = this;
    const responder = new Responder(ctx, 'inbound', req, res);
    const snapshot = ctx.store.current!;
    const ports = snapshot.inboundPorts;
    if (ports.length === 0) return responder.error('WEFT_ERR_NO_ROUTE', RESPONSE_FLAGS.noRoute);
    const peer = peerOf(req);
    let target = ports[0];
    const asked = peer.authenticated ? req.headers[CONTROL_HEADERS.targetPort] : undefined;
    if (asked !== undefined) {
      const wanted = Number(asked);
      const found = ports.find((p) => p.listenerPort === wanted);
      if (found === undefined) return responder.error('WEFT_ERR_BAD_TARGET', RESPONSE_FLAGS.noRoute);
      target = found;
    }
    const path = serverPath(req);
    if (path === undefined) return responder.error('WEFT_ERR_BAD_TARGET', RESPONSE_FLAGS.downstreamProtocolError, true);
    const check = target.listener?.healthCheck;
    if (check !== undefined && path === check.path && ANSWERED_CHECKS.has(check.protocol) && (req.method === 'GET' || req.method === 'HEAD')) {
      return this.answerHealthCheck(responder, target.listenerPort);
    }
    const policy = snapshot.policy.inbound;
    if (policy.empty) return this.forward(req, responder, path, target, peer);
    checkPolicy(ctx, policy, { listener: 'inbound', peer, peerAddress: responder.record.peerAddress, port: target.listenerPort, http: { req, path } }, responder, () =>
      this.forward(req, responder, path, target, peer),
    );
  };

  private answerHealthCheck(responder: Responder, listenerPort: number): void {
    if (this.ctx.draining()) return responder.reply(503, 'DRAINING\n');
    const status = this.appHealth?.statusOf(listenerPort) ?? 'UNKNOWN';
    responder.reply(status === 'HEALTHY' ? 200 : 503, `${status}\n`);
  }

  private forward(req: IncomingMessage, responder: Responder, path: string, target: InboundPort, peer: PeerIdentity): void {
    const { ctx } = this;
    const listener = target.listener;
    const headers = upstreamRequestHeaders(req, req.headers.host ?? `${this.appHost}:${target.appPort}`, {
      peerAddress: responder.record.peerAddress,
      // Another sidecar's forwarding chain is as trustworthy as the sidecar itself.
      trustedHops: peer.authenticated ? Infinity : ctx.trustedHops,
      proto: peer.encrypted ? 'https' : 'http',
      stripProxyAuthorization: false,
    });
    const xfcc = forwardedClientCert(peer, ctx.store.current?.config.node.spiffeId);
    if (xfcc !== undefined) headers[FORWARDED_CLIENT_CERT] = xfcc;
    const record = responder.record;
    record.requestId = headers['x-request-id'] as string;
    ctx.tracer.propagate(record, req.headers, headers);
    const upgrade = upgradeHeadOf(req) !== undefined ? (req.headers.upgrade as string | undefined) : undefined;
    const request = new ProxyRequest(req.method ?? 'GET', path, headers, requestBody(req), upgrade, { headers: req.headers, sourceIp: record.peerAddress }, record);
    responder.forward(this.dispatchTo(this.upstream(listener?.protocol, target.appPort, upgrade !== undefined)), request, {
      timeoutMs: boundedTimeout(target.timeoutMs, req.headers),
      responseTimeoutMs: 0,
      responseOps: undefined,
      stripControl: true,
      connectErrorCode: 'WEFT_ERR_APP_UNREACHABLE',
      tunnelIdleMs: listener?.timeout.idleMs ?? 0,
      maxBodyBytes: ctx.maxBodyBytes,
    });
  }

  async close(force = false): Promise<void> {
    const pools: Upstream[] = [...this.appPools.values(), ...this.h2AppPools.values()];
    this.appPools.clear();
    this.h2AppPools.clear();
    await Promise.all(pools.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }

  private dispatchTo(upstream: Upstream): Dispatch {
    let dispatch = this.dispatches.get(upstream);
    if (dispatch === undefined) {
      dispatch = upstreamDispatch(upstream);
      this.dispatches.set(upstream, dispatch);
    }
    return dispatch;
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
