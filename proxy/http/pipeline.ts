/**
 * What the inbound, egress and gateway handlers share between routing and the stack: policy
 * before routing, and a forward decision turned into a request down its route's stack:
 *   listener -> policy -> route (RouteTable) -> route stack (layers) -> cluster (balancer,
 *   breaker) -> attempt -> endpoint's pool; the responder writes the answer and the record.
 */
import type { IncomingMessage } from 'node:http';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import type { GrpcRoute, HttpRoute } from '../contracts';
import { RESPONSE_FLAGS } from '../exchange/record';
import { requestBody, upgradeHeadOf } from '../exchange/respond';
import type { Responder } from '../exchange/responder';
import { ProxyRequest } from '../exchange/stack';
import { boundedTimeout } from '../message/grpc';
import { upstreamRequestHeaders, type ForwardingOptions } from '../message/headers';
import type { CompiledPolicy, PolicyRequest } from '../policy/policy';
import { applyRequestHeaderOps } from '../routing/header-ops';

/**
 * Runs the listener's compiled policy, then `next`; or answers with the refusal. An empty policy
 * costs one property read. A check that throws or rejects refuses the request (fail closed) with
 * 500 `WEFT_ERR_POLICY_FAILED`, logged at most once a minute per check failure.
 */
export function checkPolicy(ctx: ProxyContext, policy: CompiledPolicy, request: PolicyRequest, responder: Responder, next: () => void): void {
  if (policy.empty) return next();
  const failed = (err: unknown): void => {
    ctx.events.log('error', 'policy_check_failed', `policy|${(err as Error)?.message}`, () => ({ code: 'WEFT_ERR_POLICY_FAILED', listener: request.listener, message: (err as Error)?.message ?? String(err) }));
    responder.refuse({ status: 500, code: 'WEFT_ERR_POLICY_FAILED', flag: RESPONSE_FLAGS.policyDenied });
  };
  let result;
  try {
    result = policy.evaluate(request);
  } catch (err) {
    return failed(err);
  }
  if (result instanceof Promise) {
    result.then((refusal) => {
      if (refusal !== undefined) responder.refuse(refusal);
      else {
        try {
          next();
        } catch (err) {
          failed(err);
        }
      }
    }, failed);
    return;
  }
  if (result !== undefined) return responder.refuse(result);
  next();
}

/**
 * Sends a request along a forward decision: the decision's cluster, route header rules, then the
 * route's stack (its layers over the cluster's balancer, breaker and attempt).
 */
export function forwardToCluster(
  ctx: ProxyContext,
  snapshot: Snapshot,
  req: IncomingMessage,
  responder: Responder,
  decision: { cluster: string; path: string; authority: string; route: HttpRoute | GrpcRoute | undefined },
  forwarding: ForwardingOptions,
): void {
  const cluster = snapshot.clusters.get(decision.cluster);
  if (cluster === undefined) return responder.error('WEFT_ERR_UNKNOWN_CLUSTER', RESPONSE_FLAGS.noRoute);
  const route = decision.route;
  const record = responder.record;
  record.route = route?.name;
  const headers = upstreamRequestHeaders(req, decision.authority, forwarding);
  record.requestId = headers['x-request-id'] as string;
  ctx.tracer.propagate(record, req.headers, headers);
  // Only a peer sidecar believes this header (and only over mTLS); nothing else is sent it.
  if (cluster.meshPeers) headers[CONTROL_HEADERS.targetPort] = String(cluster.def.port);
  if (route?.headers?.request) applyRequestHeaderOps(route.headers.request, headers);
  const upgrade = upgradeHeadOf(req) !== undefined ? (req.headers.upgrade as string | undefined) : undefined;
  const request = new ProxyRequest(req.method ?? 'GET', decision.path, headers, requestBody(req), upgrade, { headers: req.headers, sourceIp: forwarding.peerAddress }, record);
  request.cluster = cluster;
  // Istio: a route with fault injection gets no timeout.
  const routeTimeout = route && !route.fault ? route.timeout.perRequestMs : 0;
  responder.forward(snapshot.stackFor(route), request, {
    // A gRPC client's deadline bounds the route's.
    timeoutMs: boundedTimeout(routeTimeout, req.headers),
    responseTimeoutMs: 0,
    responseOps: route?.headers?.response,
    stripControl: !cluster.meshPeers,
    connectErrorCode: 'WEFT_ERR_UPSTREAM_CONNECT',
    tunnelIdleMs: route?.timeout.idleMs ?? 0,
    maxBodyBytes: ctx.maxBodyBytes,
  });
}
