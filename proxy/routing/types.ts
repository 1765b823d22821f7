/**
 * The seam between the sidecar's listeners (proxy/http) and its routing logic: listeners turn a
 * request into a {@link RouteRequest}, the route table answers with a decision, and the decision's
 * cluster then picks an endpoint. Everything here is synchronous and allocation-light because it
 * runs on every request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayRoute, HttpRoute, GrpcRoute, OutboundListener, OutboundService, TcpRoute } from '../contracts/node-config';

/** The parts of a request that routing looks at. `path` is the raw request target (path + query). */
export interface RouteRequest {
  method: string;
  path: string;
  /** Node's lowercased header object; multi-valued headers as arrays. */
  headers: IncomingHttpHeaders;
  scheme: 'http' | 'https';
  /** Host without port, lowercased. */
  host: string;
  /** Port the app addressed (from Host / absolute-form / listener); undefined when not known. */
  port: number | undefined;
}

/** The backend listener a request to the egress side resolved to. */
export interface OutboundTarget {
  service: OutboundService;
  listener: OutboundListener;
}

/** What to do with an HTTP or gRPC request, once a route matched. */
export type RouteDecision =
  | { kind: 'forward'; route: HttpRoute | GrpcRoute; cluster: string; path: string; authority: string }
  | { kind: 'redirect'; route: HttpRoute; status: number; location: string };

export interface RouteTable {
  /** Finds the backend virtual service listener for a Host (and port). Undefined: not in the mesh. */
  outbound(host: string, port: number | undefined): OutboundTarget | undefined;
  /**
   * First matching HTTP/gRPC route of a listener (routes are already in evaluation order),
   * the weighted target drawn, and the path and authority after rewrites.
   * `random` is in [0, 1) and chooses among weighted targets (injectable for tests).
   */
  route(target: OutboundTarget, req: RouteRequest, random: number): RouteDecision | undefined;
  /** TCP: the first TCP route of the listener and its drawn cluster. */
  routeTcp(target: OutboundTarget, random: number): { route: TcpRoute; cluster: string } | undefined;
  /** Gateway nodes: the first matching gateway route, with the path and authority after rewrite. */
  gateway(req: RouteRequest): { route: GatewayRoute; path: string; authority: string; target: OutboundTarget } | undefined;
}
