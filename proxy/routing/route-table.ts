/**
 * The route table: a node config compiled once (regexes built, hosts in a map, weights summed) into
 * the synchronous lookups the listeners call on every request.
 */
import type { GatewayRoute, GrpcRoute, HttpRoute, NodeConfig, OutboundListener, Redirect, TcpRoute } from '../contracts/node-config';
import { ContractError, type ContractIssue } from '../contracts/validation';
import {
  compileHeaderMatches,
  compilePathMatch,
  compileQueryMatches,
  conditionsHold,
  matchedPrefixLength,
  type CompiledConditions,
} from './conditions';
import { compileGatewayRoutes, matchGateway, type CompiledGatewayRoute } from './gateway-routes';
import { originalAuthority, redirectLocation, replacePrefix } from './rewrite';
import type { OutboundTarget, RouteDecision, RouteRequest, RouteTable } from './types';
import { compileWeightedTargets, drawCluster, type WeightedClusters } from './weighted';

/** A node config whose routes cannot be compiled (bad regex, all-zero weights, unknown gateway target). */
export const ROUTE_TABLE_INVALID = 'WEFT_ERR_ROUTE_TABLE_INVALID';

interface CompiledRoute {
  route: HttpRoute | GrpcRoute;
  when: CompiledConditions;
  targets: WeightedClusters | undefined;
  redirect: Redirect | undefined;
  rewritePath: string | undefined;
  rewritePrefix: string | undefined;
  rewriteHost: string | undefined;
}

interface CompiledTcpRoute {
  route: TcpRoute;
  port: number | undefined;
  targets: WeightedClusters;
}

interface CompiledListener {
  routes: CompiledRoute[];
  tcp: CompiledTcpRoute[];
}

interface CompiledService {
  byPort: Map<number, OutboundTarget>;
  first: OutboundTarget;
}

/**
 * Compiles a node config's outbound services and gateway routes. Throws a `ContractError` with code
 * {@link ROUTE_TABLE_INVALID} listing every route that cannot be compiled.
 */
export function buildRouteTable(config: NodeConfig): RouteTable {
  const issues: ContractIssue[] = [];
  const services = new Map<string, CompiledService>();
  const listeners = new Map<OutboundListener, CompiledListener>();
  config.outbound.services.forEach((service, s) => {
    const byPort = new Map<number, OutboundTarget>();
    let first: OutboundTarget | undefined;
    service.listeners.forEach((listener, l) => {
      const target: OutboundTarget = { service, listener };
      first ??= target;
      if (!byPort.has(listener.port)) byPort.set(listener.port, target);
      listeners.set(listener, compileListener(listener, `outbound.services[${s}].listeners[${l}]`, issues));
    });
    const key = service.name.toLowerCase();
    if (!services.has(key) && first !== undefined) services.set(key, { byPort, first });
  });
  const table = new CompiledRouteTable(services, listeners, []);
  if (config.gateway !== undefined) {
    table.gatewayRoutes = compileGatewayRoutes(config.gateway.routes, (name, port) => table.outbound(name, port), 'gateway.routes', issues);
  }
  if (issues.length > 0) throw new ContractError(ROUTE_TABLE_INVALID, `node config ${config.node.name}`, issues);
  return table;
}

function compileListener(listener: OutboundListener, where: string, issues: ContractIssue[]): CompiledListener {
  const routes: CompiledRoute[] = [];
  const tcp: CompiledTcpRoute[] = [];
  listener.routes.forEach((route, r) => {
    const at = `${where}.routes[${r}]`;
    if (route.protocol === 'tcp') {
      // A redirect cannot apply to a byte stream; such a route never matches.
      if ('weightedTargets' in route.action) {
        tcp.push({ route, port: route.match.port, targets: compileWeightedTargets(route.action.weightedTargets, `${at}.action.weightedTargets`, issues) });
      }
      return;
    }
    routes.push(compileRoute(route, at, issues));
  });
  return { routes, tcp };
}

function compileRoute(route: HttpRoute | GrpcRoute, at: string, issues: ContractIssue[]): CompiledRoute {
  let when: CompiledConditions;
  let rewrite: HttpRoute['rewrite'];
  if (route.protocol === 'http') {
    const m = route.match;
    rewrite = route.rewrite;
    when = {
      path: compilePathMatch(m.path, m.ignoreCase, `${at}.match.path`, issues),
      method: m.method?.toUpperCase(),
      scheme: m.scheme,
      port: m.port,
      headers: compileHeaderMatches(m.headers, `${at}.match.headers`, issues),
      query: compileQueryMatches(m.queryParameters, `${at}.match.queryParameters`, issues),
      grpcService: undefined,
      grpcMethod: undefined,
      grpcOnly: false,
    };
  } else {
    const m = route.match;
    when = {
      path: compilePathMatch(undefined, false, '', issues),
      method: undefined,
      scheme: undefined,
      port: m.port,
      headers: compileHeaderMatches(m.metadata, `${at}.match.metadata`, issues),
      query: [],
      grpcService: m.serviceName,
      grpcMethod: m.methodName,
      grpcOnly: false,
    };
  }
  const action = route.action;
  return {
    route,
    when,
    targets: 'weightedTargets' in action ? compileWeightedTargets(action.weightedTargets, `${at}.action.weightedTargets`, issues) : undefined,
    redirect: 'redirect' in action ? action.redirect : undefined,
    rewritePath: rewrite?.path,
    rewritePrefix: rewrite?.prefix,
    rewriteHost: rewrite?.hostname,
  };
}

class CompiledRouteTable implements RouteTable {
  constructor(
    private readonly services: Map<string, CompiledService>,
    private readonly listeners: Map<OutboundListener, CompiledListener>,
    public gatewayRoutes: CompiledGatewayRoute[],
  ) {}

  /**
   * Host is compared case-insensitively with the service names. With a port, the listener on that
   * port; without one, or with 80/443 (the scheme's implied port) when no listener has it, the
   * service's first listener.
   */
  outbound(host: string, port: number | undefined): OutboundTarget | undefined {
    const svc = this.services.get(host) ?? this.services.get(host.toLowerCase());
    if (svc === undefined) return undefined;
    if (port !== undefined) {
      const target = svc.byPort.get(port);
      if (target !== undefined) return target;
      if (port !== 80 && port !== 443) return undefined;
    }
    return svc.first;
  }

  route(target: OutboundTarget, req: RouteRequest, random: number): RouteDecision | undefined {
    const listener = this.listenerOf(target);
    const routes = listener.routes;
    if (routes.length === 0) return undefined;
    const raw = req.path;
    const q = raw.indexOf('?');
    const pathOnly = q < 0 ? raw : raw.slice(0, q);
    const port = req.port ?? target.listener.port;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      if (!conditionsHold(r.when, req, pathOnly, raw, q, port)) continue;
      if (r.redirect !== undefined) {
        const route = r.route as HttpRoute;
        const location = redirectLocation(r.redirect, req, pathOnly, q < 0 ? '' : raw.slice(q), matchedPrefixLength(r.when.path, pathOnly));
        return { kind: 'redirect', route, status: r.redirect.responseCode, location };
      }
      let path = raw;
      if (r.rewritePath !== undefined) path = q < 0 ? r.rewritePath : r.rewritePath + raw.slice(q);
      else if (r.rewritePrefix !== undefined) {
        const rewritten = replacePrefix(pathOnly, matchedPrefixLength(r.when.path, pathOnly), r.rewritePrefix);
        path = q < 0 ? rewritten : rewritten + raw.slice(q);
      }
      const authority = r.rewriteHost ?? originalAuthority(req);
      return { kind: 'forward', route: r.route, cluster: drawCluster(r.targets as WeightedClusters, random), path, authority };
    }
    return undefined;
  }

  routeTcp(target: OutboundTarget, random: number): { route: TcpRoute; cluster: string } | undefined {
    const tcp = this.listenerOf(target).tcp;
    const port = target.listener.port;
    for (let i = 0; i < tcp.length; i++) {
      const r = tcp[i];
      if (r.port !== undefined && r.port !== port) continue;
      return { route: r.route, cluster: drawCluster(r.targets, random) };
    }
    return undefined;
  }

  gateway(req: RouteRequest): { route: GatewayRoute; path: string; authority: string; target: OutboundTarget } | undefined {
    return matchGateway(this.gatewayRoutes, req);
  }

  /** Listeners built elsewhere (e.g. by the previous table during a reload), compiled on first use. */
  private readonly foreign = new WeakMap<OutboundListener, CompiledListener>();

  /** Listeners come from {@link outbound}; one built elsewhere is compiled on first use. */
  private listenerOf(target: OutboundTarget): CompiledListener {
    let compiled = this.listeners.get(target.listener) ?? this.foreign.get(target.listener);
    if (compiled === undefined) {
      const issues: ContractIssue[] = [];
      compiled = compileListener(target.listener, `${target.service.name}:${target.listener.port}`, issues);
      if (issues.length > 0) throw new ContractError(ROUTE_TABLE_INVALID, `listener ${target.service.name}:${target.listener.port}`, issues);
      this.foreign.set(target.listener, compiled);
    }
    return compiled;
  }
}
