/**
 * Gateway mode (virtualGateway nodes): each gateway listener matches gateway routes (hostname,
 * path, headers...), rewrites the path and Host towards the target virtual service, and then
 * forwards exactly as the egress listener does: the service's routes, weights and clusters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteRequest } from '../routing/types';
import type { Snapshot } from '../config/config-store';
import { peerAddress, splitHostPort } from './headers';
import { peerOf } from './listener';
import { forwardToCluster, redirect, reply, runFilters, type ProxyContext, type RequestFilter } from './pipeline';
import { serverPath } from './request-path';

export class GatewayHandler {
  constructor(
    private readonly ctx: ProxyContext,
    private readonly filters: readonly RequestFilter[] = [],
  ) {}

  /** The request handler of the gateway listener configured on `listenerPort`. */
  forPort(listenerPort: number): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => this.handle(listenerPort, req, res);
  }

  private handle(listenerPort: number, req: IncomingMessage, res: ServerResponse): void {
    const { ctx } = this;
    const traffic = ctx.stats.gateway;
    traffic.requests++;
    const snapshot = ctx.store.current!;
    // First: an absolute-form target's authority replaces Host.
    const path = serverPath(req);
    const hp = path === undefined ? undefined : splitHostPort(req.headers.host ?? '');
    if (hp === undefined) return reply(traffic, res, 'WEFT_ERR_BAD_TARGET', true);
    const peer = peerOf(req);
    const scheme = peer.encrypted ? 'https' : 'http';
    const edge: RouteRequest = { method: req.method ?? 'GET', path: path!, headers: req.headers, scheme, host: hp.host, port: listenerPort };
    const address = peerAddress(req.socket.remoteAddress);
    if (this.filters.length === 0) return this.route(snapshot, req, res, edge, address);
    runFilters(this.filters, req, res, { listener: 'gateway', peer, peerAddress: address, snapshot }, traffic, () => this.route(snapshot, req, res, edge, address));
  }

  private route(snapshot: Snapshot, req: IncomingMessage, res: ServerResponse, edge: RouteRequest, address: string): void {
    const { ctx } = this;
    const traffic = ctx.stats.gateway;
    const scheme = edge.scheme;
    const gw = snapshot.routes.gateway(edge);
    if (gw === undefined) return reply(traffic, res, 'WEFT_ERR_GATEWAY_NO_ROUTE');
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
    if (decision === undefined) return reply(traffic, res, 'WEFT_ERR_NO_ROUTE');
    if (decision.kind === 'redirect') return redirect(traffic, res, decision);
    forwardToCluster(ctx, snapshot, req, res, traffic, decision, {
      peerAddress: address,
      trustedHops: ctx.trustedHops,
      proto: scheme,
      stripProxyAuthorization: false,
    });
  }
}
