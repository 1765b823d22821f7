import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HeaderMatch } from './header-match';
import type { HttpRouteMethod } from './http-route-method';
import type { HttpRoutePathMatch } from './http-route-path-match';
import type { GrpcRouteSchema, HttpRouteSchema, RouteSpec as RouteSpecModel, TcpRouteSchema } from './model/schema';
import { checkCount, checkDuration, checkIntRange, checkPort, checkRange, checkStartsWithSlash } from './private/checks';
import { compact, renderDuration } from './private/model-shapes';
import type { QueryParameterMatch } from './query-parameter-match';
import type { GrpcTimeout, HttpTimeout, TcpTimeout } from './shared-interfaces';
import type { IVirtualNode } from './virtual-node';

/** A target of a route and its share of the traffic. */
export interface WeightedTarget {
  /** The target node. */
  readonly virtualNode: IVirtualNode;
  /**
   * Relative weight (0-100).
   * @default 1
   */
  readonly weight?: number;
  /**
   * Listener port of the target.
   * @default - the target's only listener
   */
  readonly port?: number;
}

/** `:scheme` values an HTTP/2 route can match. */
export enum HttpRouteProtocol {
  /** http */
  HTTP = 'http',
  /** https */
  HTTPS = 'https',
}

/** Conditions of an HTTP or HTTP/2 route; all set conditions must hold. */
export interface HttpRouteMatch {
  /**
   * Path condition.
   * @default - every path
   */
  readonly path?: HttpRoutePathMatch;
  /**
   * Header conditions (1-10).
   * @default - no header condition
   */
  readonly headers?: HeaderMatch[];
  /**
   * Method condition.
   * @default - every method
   */
  readonly method?: HttpRouteMethod;
  /**
   * Scheme condition (HTTP/2 routes).
   * @default - every scheme
   */
  readonly protocol?: HttpRouteProtocol;
  /**
   * Query parameter conditions (1-10).
   * @default - no query condition
   */
  readonly queryParameters?: QueryParameterMatch[];
  /**
   * Port condition.
   * @default - every port
   */
  readonly port?: number;
  /**
   * Weft (Istio `ignoreUriCase`): exact and prefix path conditions ignore case.
   * @default false
   */
  readonly ignoreCase?: boolean;
}

/** Conditions of a gRPC route. */
export interface GrpcRouteMatch {
  /**
   * Service name (`package.Service`).
   * @default - every service
   */
  readonly serviceName?: string;
  /**
   * Metadata conditions (1-10).
   * @default - no metadata condition
   */
  readonly metadata?: HeaderMatch[];
  /**
   * Method name; needs `serviceName`.
   * @default - every method
   */
  readonly methodName?: string;
  /**
   * Port condition.
   * @default - every port
   */
  readonly port?: number;
}

/** Options of every route spec. */
export interface RouteSpecOptionsBase {
  /**
   * Priority, 0 (first) to 1000.
   * @default - after every route with a priority, most specific match first
   */
  readonly priority?: number;
}

/** HTTP events retried. */
export enum HttpRetryEvent {
  /** 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511 */
  SERVER_ERROR = 'server-error',
  /** 502, 503, 504 */
  GATEWAY_ERROR = 'gateway-error',
  /** 409 */
  CLIENT_ERROR = 'client-error',
  /** Refused stream. */
  STREAM_ERROR = 'stream-error',
}

/** TCP events retried. */
export enum TcpRetryEvent {
  /** Connection failure. */
  CONNECTION_ERROR = 'connection-error',
}

/** gRPC statuses retried. */
export enum GrpcRetryEvent {
  /** CANCELLED */
  CANCELLED = 'cancelled',
  /** DEADLINE_EXCEEDED */
  DEADLINE_EXCEEDED = 'deadline-exceeded',
  /** INTERNAL */
  INTERNAL_ERROR = 'internal',
  /** RESOURCE_EXHAUSTED */
  RESOURCE_EXHAUSTED = 'resource-exhausted',
  /** UNAVAILABLE */
  UNAVAILABLE = 'unavailable',
}

/** Retries of an HTTP route; at least one event list must be non-empty. */
export interface HttpRetryPolicy {
  /**
   * HTTP events retried.
   * @default - none
   */
  readonly httpRetryEvents?: HttpRetryEvent[];
  /** Retries after the first attempt. */
  readonly retryAttempts: number;
  /** Timeout of each attempt. */
  readonly retryTimeout: cdk.Duration;
  /**
   * TCP events retried.
   * @default - none
   */
  readonly tcpRetryEvents?: TcpRetryEvent[];
  /**
   * Weft (Envoy `retriable-status-codes`): further status codes retried.
   * @default - none
   */
  readonly retriableStatusCodes?: number[];
}

/** Retries of a gRPC route. */
export interface GrpcRetryPolicy extends HttpRetryPolicy {
  /**
   * gRPC statuses retried.
   * @default - none
   */
  readonly grpcRetryEvents?: GrpcRetryEvent[];
}

/**
 * Weft (Istio `fault`): injected delays and aborts, each for a percentage of requests. As in
 * Istio, retries and the route timeout do not apply to a route with a fault.
 */
export interface RouteFault {
  /**
   * Delay a share of requests.
   * @default - no delay
   */
  readonly delay?: { readonly percentage: number; readonly fixedDelay: cdk.Duration };
  /**
   * Abort a share of requests with a status.
   * @default - no abort
   */
  readonly abort?: { readonly percentage: number; readonly httpStatus?: number; readonly grpcStatus?: number };
}

/**
 * Weft (Istio `mirror`): a fire-and-forget copy of a percentage of requests to another node, its
 * Host suffixed `-shadow`; the copy's answer is discarded and never affects the client's.
 */
export interface RouteMirror {
  /** The node that receives the copies. */
  readonly virtualNode: IVirtualNode;
  /**
   * Its listener port.
   * @default - its only listener
   */
  readonly port?: number;
  /**
   * Share of requests copied.
   * @default 100
   */
  readonly percentage?: number;
}

/** Weft: header operations applied in order set, add, remove. */
export interface HeaderOperations {
  /**
   * Headers replaced (or added).
   * @default - none
   */
  readonly set?: { [name: string]: string };
  /**
   * Values appended.
   * @default - none
   */
  readonly add?: { [name: string]: string };
  /**
   * Headers removed.
   * @default - none
   */
  readonly remove?: string[];
}

/** Weft (Istio `headers`): request and response header manipulation. */
export interface HeaderRules {
  /**
   * Operations on the request before it is forwarded.
   * @default - none
   */
  readonly request?: HeaderOperations;
  /**
   * Operations on the response before it is returned.
   * @default - none
   */
  readonly response?: HeaderOperations;
}

/** Weft (Istio `rewrite`): request rewrite before forwarding. */
export interface RouteRewrite {
  /**
   * Replaces the matched path prefix.
   * @default - kept
   */
  readonly prefix?: string;
  /**
   * Replaces the whole path.
   * @default - kept
   */
  readonly path?: string;
  /**
   * Replaces the Host (authority).
   * @default - kept
   */
  readonly hostname?: string;
}

/** Weft (Istio `redirect`): answer with a redirect instead of forwarding. */
export interface RouteRedirect {
  /**
   * Scheme of the new location.
   * @default - the request's
   */
  readonly scheme?: 'http' | 'https';
  /**
   * Host of the new location.
   * @default - the request's
   */
  readonly hostname?: string;
  /**
   * Port of the new location.
   * @default - the request's
   */
  readonly port?: number;
  /**
   * Whole path of the new location.
   * @default - the request's
   */
  readonly path?: string;
  /**
   * Replacement of the matched prefix.
   * @default - the request's path
   */
  readonly prefix?: string;
  /**
   * Status code.
   * @default 301
   */
  readonly responseCode?: 301 | 302 | 303 | 307 | 308;
}

/** Weft route extensions shared by HTTP and gRPC routes. */
export interface WeftRouteOptions {
  /**
   * Fault injection.
   * @default - none
   */
  readonly fault?: RouteFault;
  /**
   * Traffic mirroring.
   * @default - none
   */
  readonly mirror?: RouteMirror;
  /**
   * Header manipulation.
   * @default - none
   */
  readonly headers?: HeaderRules;
}

/** Options of an HTTP or HTTP/2 route. */
export interface HttpRouteSpecOptions extends RouteSpecOptionsBase, WeftRouteOptions {
  /**
   * Conditions.
   * @default - every request (prefix '/')
   */
  readonly match?: HttpRouteMatch;
  /** Targets and weights (1-10; empty only with `redirect`). */
  readonly weightedTargets: WeightedTarget[];
  /**
   * Timeouts.
   * @default - the target listener's, else 15 s per request
   */
  readonly timeout?: HttpTimeout;
  /**
   * Retries. The sidecar does not retry HTTP requests yet: a policy with `retryAttempts` above 0
   * is carried in the node config and `cdk synth` warns.
   * @default - no retries
   */
  readonly retryPolicy?: HttpRetryPolicy;
  /**
   * Weft: rewrite before forwarding.
   * @default - none
   */
  readonly rewrite?: RouteRewrite;
  /**
   * Weft: redirect instead of forwarding (then `weightedTargets` must be empty).
   * @default - forward to the weighted targets
   */
  readonly redirect?: RouteRedirect;
}

/** Conditions of a TCP route. */
export interface TcpRouteMatch {
  /**
   * Port condition (needed when the router has several listeners).
   * @default - every port
   */
  readonly port?: number;
}

/** Options of a TCP route. */
export interface TcpRouteSpecOptions extends RouteSpecOptionsBase {
  /**
   * Weft: conditions.
   * @default - every connection
   */
  readonly match?: TcpRouteMatch;
  /** Targets and weights (1-10). */
  readonly weightedTargets: WeightedTarget[];
  /**
   * Timeouts.
   * @default - none
   */
  readonly timeout?: TcpTimeout;
}

/** Options of a gRPC route. */
export interface GrpcRouteSpecOptions extends RouteSpecOptionsBase, WeftRouteOptions {
  /** Conditions. */
  readonly match: GrpcRouteMatch;
  /**
   * Timeouts.
   * @default - the target listener's, else 15 s per request
   */
  readonly timeout?: GrpcTimeout;
  /** Targets and weights (1-10). */
  readonly weightedTargets: WeightedTarget[];
  /**
   * Retries. The sidecar does not retry gRPC requests yet: a policy with `retryAttempts` above 0
   * is carried in the node config and `cdk synth` warns.
   * @default - no retries
   */
  readonly retryPolicy?: GrpcRetryPolicy;
}

/** What {@link RouteSpec.bind} returns: the model's route spec. */
export interface RouteSpecConfig {
  /**
   * HTTP route.
   * @default - none
   */
  readonly httpRouteSpec?: z.infer<typeof HttpRouteSchema>;
  /**
   * HTTP/2 route.
   * @default - none
   */
  readonly http2RouteSpec?: z.infer<typeof HttpRouteSchema>;
  /**
   * gRPC route.
   * @default - none
   */
  readonly grpcRouteSpec?: z.infer<typeof GrpcRouteSchema>;
  /**
   * TCP route.
   * @default - none
   */
  readonly tcpRouteSpec?: z.infer<typeof TcpRouteSchema>;
  /**
   * Priority.
   * @default - none
   */
  readonly priority?: number;
}

/** The protocol-specific part of a route. */
export abstract class RouteSpec {
  /** HTTP route. */
  static http(options: HttpRouteSpecOptions): RouteSpec {
    return new HttpRouteSpecOf('http', options);
  }
  /** HTTP/2 route. */
  static http2(options: HttpRouteSpecOptions): RouteSpec {
    return new HttpRouteSpecOf('http2', options);
  }
  /** TCP route. */
  static tcp(options: TcpRouteSpecOptions): RouteSpec {
    return new TcpRouteSpecOf(options);
  }
  /** gRPC route. */
  static grpc(options: GrpcRouteSpecOptions): RouteSpec {
    return new GrpcRouteSpecOf(options);
  }
  /** Renders the spec. */
  abstract bind(scope: Construct): RouteSpecConfig;
}

/** The model's route spec from a bound config. */
export function routeSpecModel(config: RouteSpecConfig): RouteSpecModel {
  return compact({
    priority: config.priority,
    httpRoute: config.httpRouteSpec,
    http2Route: config.http2RouteSpec,
    grpcRoute: config.grpcRouteSpec,
    tcpRoute: config.tcpRouteSpec,
  });
}

function checkPriority(priority: number | undefined): void {
  checkIntRange('Priority', priority, 0, 1000);
}

function checkTargets(targets: WeightedTarget[], allowEmpty = false): void {
  if (!(allowEmpty && targets.length === 0)) checkCount('weightedTargets', targets, 1, 10);
  for (const t of targets) {
    checkIntRange('Weighted target weight', t.weight, 0, 100);
    checkPort('Weighted target port', t.port);
  }
}

function renderTargets(targets: WeightedTarget[]): { virtualNode: string; weight: number; port?: number }[] {
  return targets.map((t) => compact({ virtualNode: t.virtualNode.virtualNodeName, weight: t.weight ?? 1, port: t.port }));
}

function renderTimeout(t: HttpTimeout | undefined) {
  return t ? compact({ idle: renderDuration(t.idle), perRequest: renderDuration(t.perRequest) }) : undefined;
}

function checkRetryPolicy(p: GrpcRetryPolicy | undefined): void {
  if (!p) return;
  checkIntRange('retryAttempts', p.retryAttempts, 0, 25);
  checkDuration('retryTimeout', p.retryTimeout, cdk.Duration.millis(1));
  const events = (p.httpRetryEvents?.length ?? 0) + (p.tcpRetryEvents?.length ?? 0) + (p.grpcRetryEvents?.length ?? 0) + (p.retriableStatusCodes?.length ?? 0);
  if (events === 0) throw new Error('a retry policy needs at least one of httpRetryEvents, tcpRetryEvents, grpcRetryEvents or retriableStatusCodes, got: none');
  p.retriableStatusCodes?.forEach((c) => checkIntRange('retriableStatusCodes', c, 100, 599));
}

function renderRetryPolicy(p: GrpcRetryPolicy | undefined) {
  if (!p) return undefined;
  const nonEmpty = <T>(xs: T[] | undefined) => (xs && xs.length > 0 ? [...xs] : undefined);
  return compact({
    maxRetries: p.retryAttempts,
    perRetryTimeout: renderDuration(p.retryTimeout),
    httpRetryEvents: nonEmpty(p.httpRetryEvents),
    tcpRetryEvents: nonEmpty(p.tcpRetryEvents),
    grpcRetryEvents: nonEmpty(p.grpcRetryEvents),
    retriableStatusCodes: nonEmpty(p.retriableStatusCodes),
  });
}

function checkWeftOptions(o: WeftRouteOptions): void {
  checkRange('fault.delay.percentage', o.fault?.delay?.percentage, 0, 100);
  checkRange('fault.abort.percentage', o.fault?.abort?.percentage, 0, 100);
  checkIntRange('fault.abort.httpStatus', o.fault?.abort?.httpStatus, 200, 599);
  checkIntRange('fault.abort.grpcStatus', o.fault?.abort?.grpcStatus, 0, 16);
  checkRange('mirror.percentage', o.mirror?.percentage, 0, 100);
  checkPort('mirror.port', o.mirror?.port);
}

function renderWeftOptions(o: WeftRouteOptions) {
  const ops = (h: HeaderOperations | undefined) =>
    h
      ? compact({
          set: h.set ? Object.entries(h.set).map(([name, value]) => ({ name, value })) : undefined,
          add: h.add ? Object.entries(h.add).map(([name, value]) => ({ name, value })) : undefined,
          remove: h.remove ? [...h.remove] : undefined,
        })
      : undefined;
  return {
    fault: o.fault
      ? compact({
          delay: o.fault.delay ? { percentage: o.fault.delay.percentage, fixedDelay: renderDuration(o.fault.delay.fixedDelay) } : undefined,
          abort: o.fault.abort ? compact({ ...o.fault.abort }) : undefined,
        })
      : undefined,
    mirror: o.mirror ? compact({ virtualNode: o.mirror.virtualNode.virtualNodeName, port: o.mirror.port, percentage: o.mirror.percentage }) : undefined,
    headers: o.headers ? compact({ request: ops(o.headers.request), response: ops(o.headers.response) }) : undefined,
  };
}

class HttpRouteSpecOf extends RouteSpec {
  constructor(
    private readonly protocol: 'http' | 'http2',
    private readonly options: HttpRouteSpecOptions,
  ) {
    super();
    const o = options;
    checkPriority(o.priority);
    if (o.redirect && o.weightedTargets.length > 0) throw new Error(`a route redirects or forwards to weighted targets, not both, got: redirect and ${o.weightedTargets.length} targets`);
    checkTargets(o.weightedTargets, o.redirect !== undefined);
    checkRetryPolicy(o.retryPolicy);
    checkCount('Route headers', o.match?.headers, 1, 10);
    checkCount('Route queryParameters', o.match?.queryParameters, 1, 10);
    checkPort('Route match port', o.match?.port);
    checkStartsWithSlash('rewrite.prefix', o.rewrite?.prefix);
    checkStartsWithSlash('rewrite.path', o.rewrite?.path);
    checkPort('redirect.port', o.redirect?.port);
    checkWeftOptions(o);
  }

  bind(scope: Construct): RouteSpecConfig {
    const o = this.options;
    const path = o.match?.path?.bind(scope);
    const route: z.infer<typeof HttpRouteSchema> = compact({
      match: {
        prefix: path?.prefixPathMatch ?? (path?.wholePathMatch ? undefined : '/'),
        path: path?.wholePathMatch,
        headers: o.match?.headers?.map((h) => h.bind(scope).headerMatch),
        method: o.match?.method,
        queryParameters: o.match?.queryParameters?.map((q) => q.bind(scope).queryParameterMatch),
        scheme: o.match?.protocol,
        port: o.match?.port,
        ignoreCase: o.match?.ignoreCase,
      },
      action: o.redirect ? { redirect: compact({ ...o.redirect }) } : { weightedTargets: renderTargets(o.weightedTargets) },
      retryPolicy: renderRetryPolicy(o.retryPolicy),
      timeout: renderTimeout(o.timeout),
      rewrite: o.rewrite ? compact({ ...o.rewrite }) : undefined,
      ...renderWeftOptions(o),
    });
    return this.protocol === 'http' ? { httpRouteSpec: route, priority: o.priority } : { http2RouteSpec: route, priority: o.priority };
  }
}

class GrpcRouteSpecOf extends RouteSpec {
  constructor(private readonly options: GrpcRouteSpecOptions) {
    super();
    const o = options;
    checkPriority(o.priority);
    checkTargets(o.weightedTargets);
    checkRetryPolicy(o.retryPolicy);
    checkCount('Route metadata', o.match.metadata, 1, 10);
    checkPort('Route match port', o.match.port);
    if (o.match.methodName !== undefined && o.match.serviceName === undefined) {
      throw new Error(`a gRPC route matching a method name must also match a service name, got: methodName '${o.match.methodName}' alone`);
    }
    checkWeftOptions(o);
  }

  bind(scope: Construct): RouteSpecConfig {
    const o = this.options;
    const route: z.infer<typeof GrpcRouteSchema> = compact({
      match: {
        serviceName: o.match.serviceName,
        methodName: o.match.methodName,
        metadata: o.match.metadata?.map((h) => h.bind(scope).headerMatch),
        port: o.match.port,
      },
      action: { weightedTargets: renderTargets(o.weightedTargets) },
      retryPolicy: renderRetryPolicy(o.retryPolicy),
      timeout: renderTimeout(o.timeout),
      ...renderWeftOptions(o),
    });
    return { grpcRouteSpec: route, priority: o.priority };
  }
}

class TcpRouteSpecOf extends RouteSpec {
  constructor(private readonly options: TcpRouteSpecOptions) {
    super();
    checkPriority(options.priority);
    checkTargets(options.weightedTargets);
    checkPort('Route match port', options.match?.port);
  }

  bind(_scope: Construct): RouteSpecConfig {
    const o = this.options;
    return {
      tcpRouteSpec: compact({
        match: o.match?.port !== undefined ? { port: o.match.port } : undefined,
        action: { weightedTargets: renderTargets(o.weightedTargets) },
        timeout: o.timeout?.idle ? { idle: renderDuration(o.timeout.idle) } : undefined,
      }),
      priority: o.priority,
    };
  }
}
