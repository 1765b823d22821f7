/**
 * Gateway mode (virtualGateway nodes): each gateway listener passes the gateway's compiled
 * policy, matches gateway routes (hostname, path, headers...), rewrites the path and Host towards
 * the target virtual service, and then forwards exactly as the egress listener does: the
 * service's routes, weights, stacks and clusters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import { RESPONSE_FLAGS } from '../exchange/record';
import { Responder } from '../exchange/responder';
import { splitHostPort } from '../message/headers';
import { serverPath } from '../message/request-path';
import type { RouteRequest } from '../routing/types';
import { peerOf } from '../tls/peer-identity';
import { checkPolicy, forwardToCluster } from './pipeline';

export class GatewayHandler {
  constructor(private readonly ctx: ProxyContext) {}

  /** The request handler of the gateway listener configured on `listenerPort`. */
  forPort(listenerPort: number): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => this.handle(listenerPort, req, res);
  }

  private handle(listenerPort: number, req: IncomingMessage, res: ServerResponse): void {
    const { ctx } = this;
    const responder = new Responder(ctx, 'gateway', req, res);
    const snapshot = ctx.store.current!;
    // First: an absolute-form target's authority replaces Host.
    const path = serverPath(req);
    const hp = path === undefined ? undefined : splitHostPort(req.headers.host ?? '');
    if (hp === undefined) return responder.error('WEFT_ERR_BAD_TARGET', RESPONSE_FLAGS.downstreamProtocolError, true);
    const peer = peerOf(req);
    const scheme = peer.encrypted ? 'https' : 'http';
    const edge: RouteRequest = { method: req.method ?? 'GET', path: path!, headers: req.headers, scheme, host: hp.host, port: listenerPort };
    const policy = snapshot.policy.gateway;
    if (policy.empty) return this.route(snapshot, req, responder, edge);
    checkPolicy(ctx, policy, { listener: 'gateway', peer, peerAddress: responder.record.peerAddress, port: listenerPort, http: { req, path: edge.path } }, responder, () =>
      this.route(snapshot, req, responder, edge),
    );
  }

  private route(snapshot: Snapshot, req: IncomingMessage, responder: Responder, edge: RouteRequest): void {
    const { ctx } = this;
    const scheme = edge.scheme;
    const gw = snapshot.routes.gateway(edge);
    if (gw === undefined) return responder.error('WEFT_ERR_GATEWAY_NO_ROUTE', RESPONSE_FLAGS.noRoute);
    responder.record.virtualService = gw.target.service.name;
    const ahp = splitHostPort(gw.authority);
    const inner: RouteRequest = {
      method: edge.method,
      path: gw.path,
      headers: gw.authority === req.headers.host ? req.headers : { ...req.headers, host: gw.authority },
      scheme,
      host: ahp?.host ?? gw.target.service.name,
      port: gw.target.listener.port,
    };
    const decision = snapshot.routes.route(gw.target, inner, ctx.random());
    if (decision === undefined) return responder.error('WEFT_ERR_NO_ROUTE', RESPONSE_FLAGS.noRoute);
    if (decision.kind === 'redirect') return responder.redirect(decision.status, decision.location);
    forwardToCluster(ctx, snapshot, req, responder, decision, {
      peerAddress: responder.record.peerAddress,
      trustedHops: ctx.trustedHops,
      proto: scheme,
      stripProxyAuthorization: false,
    });
  }
}
