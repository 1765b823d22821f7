import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HeaderMatch } from './header-match';
import type { HttpRouteMethod } from './http-route-method';
import type { HttpGatewayRoutePathMatch } from './http-route-path-match';
import type { GatewayRouteSpec as GatewayRouteSpecModel, GrpcGatewayRouteSchema, HttpGatewayRouteSchema } from './model/schema';
import { checkCount, checkIntRange, checkPort } from './private/checks';
import { compact } from './private/model-shapes';
import type { QueryParameterMatch } from './query-parameter-match';
import type { IVirtualService } from './virtual-service';

/** What {@link GatewayRouteHostnameMatch.bind} returns. */
export interface GatewayRouteHostnameMatchConfig {
  /** The model's hostname match. */
  readonly hostnameMatch: { exact: string } | { suffix: string };
}

/** How a gateway route matches the request's host name. */
export abstract class GatewayRouteHostnameMatch {
  /** The host name equals `name`. */
  static exactly(name: string): GatewayRouteHostnameMatch {
    return new HostnameMatchOf({ exact: name });
  }
  /** The host name ends with `suffix`. */
  static endsWith(suffix: string): GatewayRouteHostnameMatch {
    return new HostnameMatchOf({ suffix });
  }
  /** Renders the match. */
  abstract bind(scope: Construct): GatewayRouteHostnameMatchConfig;
}

class HostnameMatchOf extends GatewayRouteHostnameMatch {
  constructor(private readonly match: { exact: string } | { suffix: string }) {
    super();
  }
  bind(_scope: Construct): GatewayRouteHostnameMatchConfig {
    return { hostnameMatch: this.match };
  }
}

/** Conditions of an HTTP gateway route. */
export interface HttpGatewayRouteMatch {
  /**
   * Path condition and rewrite.
   * @default - every path, rewritten to '/'
   */
  readonly path?: HttpGatewayRoutePathMatch;
  /**
   * Header conditions (1-10).
   * @default - no header condition
   */
  readonly headers?: HeaderMatch[];
  /**
   * Host name condition.
   * @default - every host
   */
  readonly hostname?: GatewayRouteHostnameMatch;
  /**
   * Method condition.
   * @default - every method
   */
  readonly method?: HttpRouteMethod;
  /**
   * Query parameter conditions (1-10).
   * @default - no query condition
   */
  readonly queryParameters?: QueryParameterMatch[];
  /**
   * Rewrite the Host to the target virtual service's name.
   * @default true
   */
  readonly rewriteRequestHostname?: boolean;
  /**
   * Port condition.
   * @default - every port
   */
  readonly port?: number;
}

/** Conditions of a gRPC gateway route. */
export interface GrpcGatewayRouteMatch {
  /**
   * Service name condition.
   * @default - every service
   */
  readonly serviceName?: string;
  /**
   * Host name condition.
   * @default - every host
   */
  readonly hostname?: GatewayRouteHostnameMatch;
  /**
   * Metadata conditions (1-10).
   * @default - no metadata condition
   */
  readonly metadata?: HeaderMatch[];
  /**
   * Rewrite the Host to the target virtual service's name.
   * @default true
   */
  readonly rewriteRequestHostname?: boolean;
  /**
   * Port condition.
   * @default - every port
   */
  readonly port?: number;
}

/** Options of every gateway route spec. */
export interface CommonGatewayRouteSpecOptions {
  /**
   * Priority, 0 (first) to 1000.
   * @default - after every route with a priority, most specific match first
   */
  readonly priority?: number;
}

/** Options of an HTTP or HTTP/2 gateway route. */
export interface HttpGatewayRouteSpecOptions extends CommonGatewayRouteSpecOptions {
  /**
   * Conditions.
   * @default - every request, path rewritten to '/'
   */
  readonly match?: HttpGatewayRouteMatch;
  /** The virtual service requests go to. */
  readonly routeTarget: IVirtualService;
}

/** Options of a gRPC gateway route. */
export interface GrpcGatewayRouteSpecOptions extends CommonGatewayRouteSpecOptions {
  /** Conditions. */
  readonly match: GrpcGatewayRouteMatch;
  /** The virtual service requests go to. */
  readonly routeTarget: IVirtualService;
}

/** What {@link GatewayRouteSpec.bind} returns: the model's gateway route spec. */
export interface GatewayRouteSpecConfig {
  /**
   * HTTP gateway route.
   * @default - none
   */
  readonly httpSpecConfig?: z.infer<typeof HttpGatewayRouteSchema>;
  /**
   * HTTP/2 gateway route.
   * @default - none
   */
  readonly http2SpecConfig?: z.infer<typeof HttpGatewayRouteSchema>;
  /**
   * gRPC gateway route.
   * @default - none
   */
  readonly grpcSpecConfig?: z.infer<typeof GrpcGatewayRouteSchema>;
  /**
   * Priority.
   * @default - none
   */
  readonly priority?: number;
}

/** The protocol-specific part of a gateway route. */
export abstract class GatewayRouteSpec {
  /** HTTP gateway route. */
  static http(options: HttpGatewayRouteSpecOptions): GatewayRouteSpec {
    return new HttpGatewayRouteSpecOf('http', options);
  }
  /** HTTP/2 gateway route. */
  static http2(options: HttpGatewayRouteSpecOptions): GatewayRouteSpec {
    return new HttpGatewayRouteSpecOf('http2', options);
  }
  /** gRPC gateway route. */
  static grpc(options: GrpcGatewayRouteSpecOptions): GatewayRouteSpec {
    return new GrpcGatewayRouteSpecOf(options);
  }
  /** Renders the spec. */
  abstract bind(scope: Construct): GatewayRouteSpecConfig;
}

export function gatewayRouteSpecModel(config: GatewayRouteSpecConfig): GatewayRouteSpecModel {
  return compact({ priority: config.priority, httpRoute: config.httpSpecConfig, http2Route: config.http2SpecConfig, grpcRoute: config.grpcSpecConfig });
}

function hostnameRewrite(rewrite: boolean | undefined): { defaultTargetHostname: 'ENABLED' | 'DISABLED' } | undefined {
  return rewrite === undefined ? undefined : { defaultTargetHostname: rewrite ? 'ENABLED' : 'DISABLED' };
}

class HttpGatewayRouteSpecOf extends GatewayRouteSpec {
  constructor(
    private readonly protocol: 'http' | 'http2',
    private readonly options: HttpGatewayRouteSpecOptions,
  ) {
    super();
    checkIntRange('Priority', options.priority, 0, 1000);
    checkCount('Gateway route headers', options.match?.headers, 1, 10);
    checkCount('Gateway route queryParameters', options.match?.queryParameters, 1, 10);
    checkPort('Gateway route match port', options.match?.port);
  }
  bind(scope: Construct): GatewayRouteSpecConfig {
    const o = this.options;
    const path = o.match?.path?.bind(scope);
    const rewrite = compact({
      prefix: path?.prefixPathRewrite,
      path: path?.wholePathRewrite,
      hostname: hostnameRewrite(o.match?.rewriteRequestHostname),
    });
    const route: z.infer<typeof HttpGatewayRouteSchema> = compact({
      match: {
        prefix: path?.prefixPathMatch ?? (path?.wholePathMatch ? undefined : '/'),
        path: path?.wholePathMatch,
        hostname: o.match?.hostname?.bind(scope).hostnameMatch,
        headers: o.match?.headers?.map((h) => h.bind(scope).headerMatch),
        method: o.match?.method,
        queryParameters: o.match?.queryParameters?.map((q) => q.bind(scope).queryParameterMatch),
        port: o.match?.port,
      },
      action: {
        target: { virtualService: { virtualServiceName: o.routeTarget.virtualServiceName } },
        rewrite: Object.keys(rewrite).length > 0 ? rewrite : undefined,
      },
    });
    return this.protocol === 'http' ? { httpSpecConfig: route, priority: o.priority } : { http2SpecConfig: route, priority: o.priority };
  }
}

class GrpcGatewayRouteSpecOf extends GatewayRouteSpec {
  constructor(private readonly options: GrpcGatewayRouteSpecOptions) {
    super();
    checkIntRange('Priority', options.priority, 0, 1000);
    checkCount('Gateway route metadata', options.match.metadata, 1, 10);
    checkPort('Gateway route match port', options.match.port);
  }
  bind(scope: Construct): GatewayRouteSpecConfig {
    const o = this.options;
    const hostname = hostnameRewrite(o.match.rewriteRequestHostname);
    return {
      grpcSpecConfig: compact({
        match: {
          serviceName: o.match.serviceName,
          hostname: o.match.hostname?.bind(scope).hostnameMatch,
          metadata: o.match.metadata?.map((h) => h.bind(scope).headerMatch),
          port: o.match.port,
        },
        action: {
          target: { virtualService: { virtualServiceName: o.routeTarget.virtualServiceName } },
          rewrite: hostname ? { hostname } : undefined,
        },
      }),
      priority: o.priority,
    };
  }
}
