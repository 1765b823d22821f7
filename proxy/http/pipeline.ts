/**
 * The request pipeline shared by the egress and gateway listeners:
 *   listener -> filters -> route (RouteTable) -> cluster (balancer, breaker) -> endpoint (pool).
 * Filters are the extension point for inbound policy (authorization, JWT, rate limits); the
 * exchange (forward.ts) is the point retries will wrap.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import type { ConfigStore, Snapshot } from '../config/config-store';
import type { HttpRoute, GrpcRoute } from '../contracts';
import type { WeftErrorCode } from '../errors';
import { applyRequestHeaderOps } from '../routing/header-ops';
import type { RouteDecision } from '../routing/types';
import { countResponse, type SidecarStats, type TrafficStats } from '../stats';
import { Exchange } from './forward';
import { boundedTimeout, grpcStatusForHttp, isGrpcRequest } from './grpc';
import { upstreamRequestHeaders, type ForwardingOptions } from './headers';
import { upgradeHeadOf, type PeerIdentity } from './listener';
import { sendGrpcStatus, sendProxyError } from './respond';

/** A refusal a filter answers with instead of forwarding. */
export interface FilterVerdict {
  status: number;
  code: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What a filter knows about a request besides the request itself. */
export interface FilterInfo {
  listener: 'inbound' | 'egress' | 'gateway';
  peer: PeerIdentity;
  peerAddress: string;
  snapshot: Snapshot;
}

/**
 * A step every request passes before routing. Return undefined to continue; a verdict to answer
 * with it. Synchronous filters cost no promise; asynchronous ones (a JWKS fetch) may return one.
 */
export interface RequestFilter {
  readonly name: string;
  onRequest(req: IncomingMessage, info: FilterInfo): FilterVerdict | undefined | Promise<FilterVerdict | undefined>;
}

/** What every handler shares. */
export interface ProxyContext {
  store: ConfigStore;
  stats: SidecarStats;
  trustedHops: number;
  maxBodyBytes: number;
  random: () => number;
  /** True once shutdown began: responses close their connections. */
  draining: () => boolean;
}

/** Answers with a sidecar error (a gRPC status to gRPC requests) and counts it. */
export function reply(traffic: TrafficStats, res: ServerResponse, code: WeftErrorCode, close = false, headers?: Record<string, string>): void {
  sendProxyError(res, code, close, headers);
  countResponse(traffic, res.statusCode);
}

/**
 * Runs `filters` and then `next`, or answers with the first verdict. Zero filters cost one
 * length check.
 */
export function runFilters(filters: readonly RequestFilter[], req: IncomingMessage, res: ServerResponse, info: FilterInfo, traffic: TrafficStats, next: () => void): void {
  if (filters.length === 0) return next();
  let i = 0;
  const step = (): void => {
    while (i < filters.length) {
      const verdict = filters[i++].onRequest(req, info);
      if (verdict instanceof Promise) {
        verdict.then(
          (v) => (v ? refuse(v) : step()),
          () => reply(traffic, res, 'WEFT_ERR_BAD_REQUEST'),
        );
        return;
      }
      if (verdict) return refuse(verdict);
    }
    next();
  };
  const refuse = (v: FilterVerdict): void => {
    if (isGrpcRequest(req.headers)) {
      sendGrpcStatus(res, grpcStatusForHttp(v.status), v.body ?? v.code, { ...v.headers, [CONTROL_HEADERS.errorCode]: v.code });
      countResponse(traffic, 200);
      return;
    }
    const body = v.body ?? `${v.code}\n`;
    res.writeHead(v.status, { ...v.headers, [CONTROL_HEADERS.errorCode]: v.code, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    countResponse(traffic, v.status);
  };
  step();
}

/** Answers a redirect decision. */
export function redirect(traffic: TrafficStats, res: ServerResponse, decision: Extract<RouteDecision, { kind: 'redirect' }>): void {
  res.writeHead(decision.status, { location: decision.location, 'content-length': 0 });
  res.end();
  countResponse(traffic, decision.status);
}

/**
 * Sends a request along a forward decision: the decision's cluster picks an endpoint, the
 * circuit breaker may refuse, route header rules apply, and an {@link Exchange} carries it.
 */
export function forwardToCluster(
  ctx: ProxyContext,
  snapshot: Snapshot,
  req: IncomingMessage,
  res: ServerResponse,
  traffic: TrafficStats,
  decision: { cluster: string; path: string; authority: string; route: HttpRoute | GrpcRoute | undefined },
  forwarding: ForwardingOptions,
): void {
  const cluster = snapshot.clusters.get(decision.cluster);
  if (cluster === undefined) return reply(traffic, res, 'WEFT_ERR_UNKNOWN_CLUSTER');
  const endpoint = cluster.pick({ headers: req.headers, sourceIp: forwarding.peerAddress });
  if (endpoint === undefined) {
    cluster.stats.noEndpoint++;
    return reply(traffic, res, 'WEFT_ERR_NO_HEALTHY_UPSTREAM');
  }
  if (cluster.overloaded(endpoint)) {
    cluster.stats.overflow++;
    return reply(traffic, res, 'WEFT_ERR_OVERLOADED', false, { [CONTROL_HEADERS.overloaded]: 'true' });
  }
  const headers = upstreamRequestHeaders(req, decision.authority, forwarding);
  // Only a peer sidecar believes this header (and only over mTLS); nothing else is sent it.
  if (cluster.meshPeers) headers[CONTROL_HEADERS.targetPort] = String(cluster.def.port);
  const route = decision.route;
  if (route?.headers?.request) applyRequestHeaderOps(route.headers.request, headers);
  // Istio: a route with fault injection gets no timeout (faults arrive in a later issue).
  const routeTimeout = route && !route.fault ? route.timeout.perRequestMs : 0;
  const upgrade = upgradeHeadOf(req) !== undefined;
  new Exchange(req, res, {
    traffic,
    cluster,
    endpoint,
    responseOps: route?.headers?.response,
    stripResponseControl: !cluster.meshPeers,
    connectErrorCode: 'WEFT_ERR_UPSTREAM_CONNECT',
    // A gRPC client's deadline bounds the route's.
    timeoutMs: boundedTimeout(routeTimeout, req.headers),
    maxBodyBytes: ctx.maxBodyBytes,
    draining: ctx.draining,
    tunnelIdleMs: route?.timeout.idleMs,
  }).start(upgrade ? cluster.upgradePool(endpoint) : cluster.pool(endpoint), decision.path, headers);
}
