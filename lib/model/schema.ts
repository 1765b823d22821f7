/**
 * The mesh model: App Mesh's resources with the field names and shapes of the App Mesh API's JSON
 * (camelCase), extended where Weft goes beyond App Mesh. Every extension is optional and its
 * default is stated beside it. Every front end (Weft YAML, App Mesh `describe-*` JSON, CloudFormation,
 * the CDK constructs) produces these shapes; the compiler consumes them.
 *
 * This module must not import aws-cdk-lib: the CLI and the sidecar's tests use it without CDK.
 */
import { z } from 'zod';
import {
  AuthzPolicySchema,
  JwtRuleSchema,
  RateLimitSchema,
  StaticEndpointSchema,
} from '../../proxy/contracts/node-config';

const port = z.number().int().min(1).max(65535);

/** App Mesh's duration: `{ unit: 'ms' | 's', value }`. Weft documents may also write `"2s"` or `"500ms"`. */
export const DurationSchema = z.union([
  z.strictObject({ unit: z.enum(['ms', 's']), value: z.number().int().min(0) }),
  z.string().regex(/^\d+(ms|s|m)$/, 'must be a duration like "500ms", "2s" or "1m"'),
]);
export type Duration = z.infer<typeof DurationSchema>;

export const PortProtocolSchema = z.enum(['http', 'http2', 'grpc', 'tcp']);
export const PortMappingSchema = z.strictObject({ port, protocol: PortProtocolSchema });

// --- Mesh ---

export const MeshSpecSchema = z.strictObject({
  egressFilter: z.strictObject({ type: z.enum(['ALLOW_ALL', 'DROP_ALL']) }).optional(),
  serviceDiscovery: z.strictObject({ ipPreference: z.enum(['IPv6_PREFERRED', 'IPv4_PREFERRED', 'IPv4_ONLY', 'IPv6_ONLY']) }).optional(),
  /** Weft: SPIFFE trust domain of the mesh's identities. Default: the mesh name lowercased. */
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/, 'must be lowercase letters, digits, ".", "_" or "-"').optional(),
  /**
   * Weft: distributed tracing in every sidecar of the mesh. Absent: off. `enabled` default true;
   * `samplingPercentage` (0-100) default 1, as Istio; `endpoint` (the collector's OTLP/HTTP traces
   * URL) default `http://localhost:4318/v1/traces`, the ADOT collector sidecar's.
   */
  tracing: z
    .strictObject({
      enabled: z.boolean().optional(),
      samplingPercentage: z.number().min(0).max(100).optional(),
      endpoint: z.string().optional(),
    })
    .optional(),
});
export type MeshSpec = z.infer<typeof MeshSpecSchema>;

// --- TLS ---

export const TlsCertificateSchema = z.union([
  z.strictObject({ acm: z.strictObject({ certificateArn: z.string().min(1) }) }),
  z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1), privateKey: z.string().min(1) }) }),
  z.strictObject({ sds: z.strictObject({ secretName: z.string().min(1) }) }),
]);
export const SubjectAlternativeNamesSchema = z.strictObject({
  match: z.strictObject({ exact: z.array(z.string().min(1)).min(1) }),
});
export const ListenerTlsValidationSchema = z.strictObject({
  subjectAlternativeNames: SubjectAlternativeNamesSchema.optional(),
  trust: z.union([
    z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1) }) }),
    z.strictObject({ sds: z.strictObject({ secretName: z.string().min(1) }) }),
  ]),
});
export const ListenerTlsSchema = z.strictObject({
  mode: z.enum(['STRICT', 'PERMISSIVE', 'DISABLED']),
  certificate: TlsCertificateSchema,
  validation: ListenerTlsValidationSchema.optional(),
});
export const ClientPolicySchema = z.strictObject({
  tls: z
    .strictObject({
      enforce: z.boolean().default(true),
      ports: z.array(port).optional(),
      certificate: z
        .union([
          z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1), privateKey: z.string().min(1) }) }),
          z.strictObject({ sds: z.strictObject({ secretName: z.string().min(1) }) }),
        ])
        .optional(),
      validation: z.strictObject({
        subjectAlternativeNames: SubjectAlternativeNamesSchema.optional(),
        trust: z.union([
          z.strictObject({ acm: z.strictObject({ certificateAuthorityArns: z.array(z.string().min(1)).min(1).max(3) }) }),
          z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1) }) }),
          z.strictObject({ sds: z.strictObject({ secretName: z.string().min(1) }) }),
        ]),
      }),
    })
    .optional(),
});
export const BackendDefaultsSchema = z.strictObject({ clientPolicy: ClientPolicySchema.optional() });

// --- Listener parts ---

export const HealthCheckSchema = z.strictObject({
  protocol: PortProtocolSchema,
  path: z.string().startsWith('/').optional(),
  port: port.optional(),
  healthyThreshold: z.number().int().min(2).max(10),
  unhealthyThreshold: z.number().int().min(2).max(10),
  intervalMillis: z.number().int().min(5000).max(300000),
  timeoutMillis: z.number().int().min(2000).max(60000),
});

const HttpTimeoutSchema = z.strictObject({ idle: DurationSchema.optional(), perRequest: DurationSchema.optional() });
export const ListenerTimeoutSchema = z.strictObject({
  http: HttpTimeoutSchema.optional(),
  http2: HttpTimeoutSchema.optional(),
  grpc: HttpTimeoutSchema.optional(),
  tcp: z.strictObject({ idle: DurationSchema.optional() }).optional(),
});

export const ConnectionPoolSchema = z.strictObject({
  http: z.strictObject({ maxConnections: z.number().int().min(1), maxPendingRequests: z.number().int().min(1).optional() }).optional(),
  http2: z.strictObject({ maxRequests: z.number().int().min(1) }).optional(),
  grpc: z.strictObject({ maxRequests: z.number().int().min(1) }).optional(),
  tcp: z.strictObject({ maxConnections: z.number().int().min(1) }).optional(),
});

/** App Mesh requires all four fields. */
export const OutlierDetectionSchema = z.strictObject({
  maxServerErrors: z.number().int().min(1),
  interval: DurationSchema,
  baseEjectionDuration: DurationSchema,
  maxEjectionPercent: z.number().int().min(0).max(100),
});

export const VirtualNodeListenerSchema = z.strictObject({
  portMapping: PortMappingSchema,
  healthCheck: HealthCheckSchema.optional(),
  timeout: ListenerTimeoutSchema.optional(),
  connectionPool: ConnectionPoolSchema.optional(),
  outlierDetection: OutlierDetectionSchema.optional(),
  tls: ListenerTlsSchema.optional(),
});

// --- Service discovery ---

export const ServiceDiscoverySchema = z.union([
  z.strictObject({
    dns: z.strictObject({
      hostname: z.string().min(1),
      responseType: z.enum(['LOADBALANCER', 'ENDPOINTS']).optional(),
      ipPreference: z.enum(['IPv6_PREFERRED', 'IPv4_PREFERRED', 'IPv4_ONLY', 'IPv6_ONLY']).optional(),
    }),
  }),
  z.strictObject({
    awsCloudMap: z.strictObject({
      namespaceName: z.string().min(1),
      serviceName: z.string().min(1),
      attributes: z.array(z.strictObject({ key: z.string().min(1).max(255), value: z.string().min(1).max(1024) })).optional(),
      ipPreference: z.enum(['IPv6_PREFERRED', 'IPv4_PREFERRED', 'IPv4_ONLY', 'IPv6_ONLY']).optional(),
    }),
  }),
  /** Weft: a fixed list of endpoints (local mode, tests, endpoints outside AWS). */
  z.strictObject({ static: z.strictObject({ endpoints: z.array(StaticEndpointSchema).min(1) }) }),
]);

/**
 * Weft: how callers balance over this node's endpoints. Default: ROUND_ROBIN, no zone preference.
 */
export const LoadBalancerSchema = z.strictObject({
  policy: z.enum(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'CONSISTENT_HASH']),
  consistentHash: z
    .union([
      z.strictObject({ header: z.string().min(1) }),
      z.strictObject({ cookie: z.strictObject({ name: z.string().min(1), ttl: DurationSchema.optional(), path: z.string().optional() }) }),
      z.strictObject({ sourceIp: z.literal(true) }),
    ])
    .optional(),
  /** Prefer the caller's zone while this share of the zone's endpoints is healthy. Default: off. */
  zoneAware: z.strictObject({ minHealthyPercent: z.number().min(0).max(100).optional() }).optional(),
});

/** Weft: policy applied to traffic entering a node or gateway. Default: allow all, no JWT, no limit. */
const inboundPolicyFields = {
  authorization: z.array(AuthzPolicySchema).optional(),
  jwt: z.array(JwtRuleSchema).optional(),
  rateLimit: RateLimitSchema.optional(),
};

export const VirtualNodeSpecSchema = z.strictObject({
  listeners: z.array(VirtualNodeListenerSchema).max(10).optional(),
  serviceDiscovery: ServiceDiscoverySchema.optional(),
  backends: z
    .array(z.strictObject({ virtualService: z.strictObject({ virtualServiceName: z.string().min(1), clientPolicy: ClientPolicySchema.optional() }) }))
    .optional(),
  backendDefaults: BackendDefaultsSchema.optional(),
  logging: z
    .strictObject({
      accessLog: z
        .strictObject({
          file: z.strictObject({
            path: z.string().min(1),
            format: z
              .union([
                z.strictObject({ text: z.string().min(1) }),
                z.strictObject({ json: z.array(z.strictObject({ key: z.string().min(1), value: z.string().min(1) })).min(1) }),
              ])
              .optional(),
            /** Weft: share of requests and connections logged, 0-100 (default 100). */
            samplePercent: z.number().min(0).max(100).optional(),
          }),
        })
        .optional(),
    })
    .optional(),
  loadBalancer: LoadBalancerSchema.optional(),
  ...inboundPolicyFields,
});
export type VirtualNodeSpec = z.infer<typeof VirtualNodeSpecSchema>;

// --- Virtual service and router ---

export const VirtualServiceSpecSchema = z.strictObject({
  provider: z
    .union([
      z.strictObject({ virtualNode: z.strictObject({ virtualNodeName: z.string().min(1) }) }),
      z.strictObject({ virtualRouter: z.strictObject({ virtualRouterName: z.string().min(1) }) }),
    ])
    .optional(),
});
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpecSchema>;

export const VirtualRouterSpecSchema = z.strictObject({
  listeners: z.array(z.strictObject({ portMapping: PortMappingSchema })).min(1).max(10),
});
export type VirtualRouterSpec = z.infer<typeof VirtualRouterSpecSchema>;

// --- Routes ---

/** App Mesh header match, plus Weft's `present` (Istio's `{}`). */
export const HeaderMatchMethodSchema = z.union([
  z.strictObject({ exact: z.string() }),
  z.strictObject({ prefix: z.string().min(1) }),
  z.strictObject({ suffix: z.string().min(1) }),
  z.strictObject({ regex: z.string().min(1) }),
  z.strictObject({ range: z.strictObject({ start: z.number().int(), end: z.number().int() }) }),
  z.strictObject({ present: z.literal(true) }),
]);
export const HeaderMatchSchema = z.strictObject({
  name: z.string().min(1).max(50),
  invert: z.boolean().optional(),
  /** Absent: the header must be present. */
  match: HeaderMatchMethodSchema.optional(),
});
export const QueryParameterMatchSchema = z.strictObject({
  name: z.string().min(1),
  /** Absent: the parameter must be present. */
  match: z.strictObject({ exact: z.string() }).optional(),
});
export const HttpPathMatchSchema = z.union([
  z.strictObject({ exact: z.string().startsWith('/') }),
  z.strictObject({ regex: z.string().min(1) }),
]);

export const HttpRouteMatchSchema = z.strictObject({
  prefix: z.string().startsWith('/').optional(),
  path: HttpPathMatchSchema.optional(),
  headers: z.array(HeaderMatchSchema).min(1).max(10).optional(),
  method: z.enum(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']).optional(),
  queryParameters: z.array(QueryParameterMatchSchema).min(1).max(10).optional(),
  scheme: z.enum(['http', 'https']).optional(),
  port: port.optional(),
  /** Weft (Istio `ignoreUriCase`): exact and prefix path matches ignore case. Default false. */
  ignoreCase: z.boolean().optional(),
});

export const WeightedTargetSchema = z.strictObject({
  virtualNode: z.string().min(1),
  weight: z.number().int().min(0).max(100),
  port: port.optional(),
});

export const HttpRetryPolicySchema = z.strictObject({
  maxRetries: z.number().int().min(0),
  perRetryTimeout: DurationSchema,
  httpRetryEvents: z.array(z.enum(['server-error', 'gateway-error', 'client-error', 'stream-error'])).min(1).max(25).optional(),
  tcpRetryEvents: z.array(z.literal('connection-error')).min(1).max(1).optional(),
  /** Weft (Envoy `retriable-status-codes`): further status codes to retry. Default none. */
  retriableStatusCodes: z.array(z.number().int().min(100).max(599)).optional(),
});
export const GrpcRetryPolicySchema = HttpRetryPolicySchema.extend({
  grpcRetryEvents: z.array(z.enum(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'])).min(1).max(5).optional(),
});

/** Weft (Istio `fault`): when set, the route's retries and timeouts are not applied. Default none. */
export const FaultSchema = z.strictObject({
  delay: z.strictObject({ percentage: z.number().min(0).max(100), fixedDelay: DurationSchema }).optional(),
  abort: z
    .strictObject({
      percentage: z.number().min(0).max(100),
      httpStatus: z.number().int().min(200).max(599).optional(),
      grpcStatus: z.number().int().min(0).max(16).optional(),
    })
    .optional(),
});
/** Weft (Istio `mirror`): fire-and-forget copy to another node. Default percentage 100. */
export const MirrorSchema = z.strictObject({
  virtualNode: z.string().min(1),
  port: port.optional(),
  percentage: z.number().min(0).max(100).optional(),
});
const HeaderValueSchema = z.strictObject({ name: z.string().min(1), value: z.string() });
const HeaderOpsSchema = z.strictObject({
  set: z.array(HeaderValueSchema).optional(),
  add: z.array(HeaderValueSchema).optional(),
  remove: z.array(z.string().min(1)).optional(),
});
/** Weft (Istio `headers`): request and response header manipulation. Default none. */
export const HeaderRulesSchema = z.strictObject({ request: HeaderOpsSchema.optional(), response: HeaderOpsSchema.optional() });
/** Weft (Istio `rewrite`): prefix or whole-path rewrite and Host rewrite. Default none. */
export const RouteRewriteSchema = z.strictObject({
  prefix: z.string().startsWith('/').optional(),
  path: z.string().startsWith('/').optional(),
  hostname: z.string().min(1).optional(),
});
/** Weft (Istio `redirect`): answer with a redirect instead of forwarding. Default code 301. */
export const RedirectSchema = z.strictObject({
  scheme: z.enum(['http', 'https']).optional(),
  hostname: z.string().min(1).optional(),
  port: port.optional(),
  path: z.string().startsWith('/').optional(),
  prefix: z.string().startsWith('/').optional(),
  responseCode: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).optional(),
});

const RouteTimeoutSchema = z.strictObject({ idle: DurationSchema.optional(), perRequest: DurationSchema.optional() });
const RouteActionSchema = z.union([
  z.strictObject({ weightedTargets: z.array(WeightedTargetSchema).min(1).max(10) }),
  z.strictObject({ redirect: RedirectSchema }),
]);

export const HttpRouteSchema = z.strictObject({
  match: HttpRouteMatchSchema,
  action: RouteActionSchema,
  retryPolicy: HttpRetryPolicySchema.optional(),
  timeout: RouteTimeoutSchema.optional(),
  fault: FaultSchema.optional(),
  mirror: MirrorSchema.optional(),
  headers: HeaderRulesSchema.optional(),
  rewrite: RouteRewriteSchema.optional(),
});
export const GrpcRouteSchema = z.strictObject({
  match: z.strictObject({
    serviceName: z.string().min(1).optional(),
    methodName: z.string().min(1).optional(),
    metadata: z.array(HeaderMatchSchema).min(1).max(10).optional(),
    port: port.optional(),
  }),
  action: z.strictObject({ weightedTargets: z.array(WeightedTargetSchema).min(1).max(10) }),
  retryPolicy: GrpcRetryPolicySchema.optional(),
  timeout: RouteTimeoutSchema.optional(),
  fault: FaultSchema.optional(),
  mirror: MirrorSchema.optional(),
  headers: HeaderRulesSchema.optional(),
});
export const TcpRouteSchema = z.strictObject({
  match: z.strictObject({ port: port.optional() }).optional(),
  action: z.strictObject({ weightedTargets: z.array(WeightedTargetSchema).min(1).max(10) }),
  timeout: z.strictObject({ idle: DurationSchema.optional() }).optional(),
});

/** Exactly one of httpRoute, http2Route, grpcRoute, tcpRoute (checked by the validator). */
export const RouteSpecSchema = z.strictObject({
  priority: z.number().int().min(0).max(1000).optional(),
  httpRoute: HttpRouteSchema.optional(),
  http2Route: HttpRouteSchema.optional(),
  grpcRoute: GrpcRouteSchema.optional(),
  tcpRoute: TcpRouteSchema.optional(),
});
export type RouteSpec = z.infer<typeof RouteSpecSchema>;

// --- Virtual gateway and gateway routes ---

export const VirtualGatewayListenerSchema = z.strictObject({
  portMapping: z.strictObject({ port, protocol: z.enum(['http', 'http2', 'grpc']) }),
  healthCheck: HealthCheckSchema.optional(),
  connectionPool: z
    .strictObject({
      http: z.strictObject({ maxConnections: z.number().int().min(1), maxPendingRequests: z.number().int().min(1).optional() }).optional(),
      http2: z.strictObject({ maxRequests: z.number().int().min(1) }).optional(),
      grpc: z.strictObject({ maxRequests: z.number().int().min(1) }).optional(),
    })
    .optional(),
  tls: ListenerTlsSchema.optional(),
});
export const VirtualGatewaySpecSchema = z.strictObject({
  listeners: z.array(VirtualGatewayListenerSchema).min(1).max(10),
  backendDefaults: BackendDefaultsSchema.optional(),
  logging: VirtualNodeSpecSchema.shape.logging,
  ...inboundPolicyFields,
});
export type VirtualGatewaySpec = z.infer<typeof VirtualGatewaySpecSchema>;

const GatewayTargetSchema = z.strictObject({
  virtualService: z.strictObject({ virtualServiceName: z.string().min(1) }),
  port: port.optional(),
});
const HostnameMatchSchema = z.union([z.strictObject({ exact: z.string().min(1) }), z.strictObject({ suffix: z.string().min(1) })]);
const HostnameRewriteSchema = z.strictObject({ defaultTargetHostname: z.enum(['ENABLED', 'DISABLED']) });

export const HttpGatewayRouteSchema = z.strictObject({
  match: z.strictObject({
    prefix: z.string().startsWith('/').optional(),
    path: HttpPathMatchSchema.optional(),
    hostname: HostnameMatchSchema.optional(),
    headers: z.array(HeaderMatchSchema).min(1).max(10).optional(),
    method: HttpRouteMatchSchema.shape.method,
    queryParameters: z.array(QueryParameterMatchSchema).min(1).max(10).optional(),
    port: port.optional(),
  }),
  action: z.strictObject({
    target: GatewayTargetSchema,
    rewrite: z
      .strictObject({
        prefix: z.strictObject({ defaultPrefix: z.enum(['ENABLED', 'DISABLED']).optional(), value: z.string().startsWith('/').optional() }).optional(),
        path: z.strictObject({ exact: z.string().startsWith('/') }).optional(),
        hostname: HostnameRewriteSchema.optional(),
      })
      .optional(),
  }),
});
export const GrpcGatewayRouteSchema = z.strictObject({
  match: z.strictObject({
    serviceName: z.string().min(1).optional(),
    hostname: HostnameMatchSchema.optional(),
    metadata: z.array(HeaderMatchSchema).min(1).max(10).optional(),
    port: port.optional(),
  }),
  action: z.strictObject({
    target: GatewayTargetSchema,
    rewrite: z.strictObject({ hostname: HostnameRewriteSchema.optional() }).optional(),
  }),
});
/** Exactly one of httpRoute, http2Route, grpcRoute (checked by the validator). */
export const GatewayRouteSpecSchema = z.strictObject({
  priority: z.number().int().min(0).max(1000).optional(),
  httpRoute: HttpGatewayRouteSchema.optional(),
  http2Route: HttpGatewayRouteSchema.optional(),
  grpcRoute: GrpcGatewayRouteSchema.optional(),
});
export type GatewayRouteSpec = z.infer<typeof GatewayRouteSpecSchema>;

// --- Resources ---

export const RESOURCE_KINDS = ['Mesh', 'VirtualNode', 'VirtualService', 'VirtualRouter', 'Route', 'VirtualGateway', 'GatewayRoute'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const SPEC_SCHEMAS = {
  Mesh: MeshSpecSchema,
  VirtualNode: VirtualNodeSpecSchema,
  VirtualService: VirtualServiceSpecSchema,
  VirtualRouter: VirtualRouterSpecSchema,
  Route: RouteSpecSchema,
  VirtualGateway: VirtualGatewaySpecSchema,
  GatewayRoute: GatewayRouteSpecSchema,
} as const;

/** Where a resource came from, so errors can point at it. */
export interface SourceRef {
  /** File name (or `<construct path>` for CDK). */
  file: string;
  /** Index of the document in the file (YAML multi-doc, CloudFormation logical id order). */
  document?: number;
  /** Logical id (CloudFormation) or construct path (CDK). */
  id?: string;
  /** Maps a field path inside the resource (`spec.listeners[0].portMapping.port`) to a 1-based line. */
  lineOf?: (path: string) => number | undefined;
}

interface ResourceBase<K extends ResourceKind> {
  kind: K;
  name: string;
  meshName: string;
  source: SourceRef;
}
export interface MeshResource extends ResourceBase<'Mesh'> { spec: MeshSpec }
export interface VirtualNodeResource extends ResourceBase<'VirtualNode'> { spec: VirtualNodeSpec }
export interface VirtualServiceResource extends ResourceBase<'VirtualService'> { spec: VirtualServiceSpec }
export interface VirtualRouterResource extends ResourceBase<'VirtualRouter'> { spec: VirtualRouterSpec }
export interface RouteResource extends ResourceBase<'Route'> { virtualRouterName: string; spec: RouteSpec }
export interface VirtualGatewayResource extends ResourceBase<'VirtualGateway'> { spec: VirtualGatewaySpec }
export interface GatewayRouteResource extends ResourceBase<'GatewayRoute'> { virtualGatewayName: string; spec: GatewayRouteSpec }

export type Resource =
  | MeshResource
  | VirtualNodeResource
  | VirtualServiceResource
  | VirtualRouterResource
  | RouteResource
  | VirtualGatewayResource
  | GatewayRouteResource;

/** One mesh and everything in it, after parsing and before cross-reference validation. */
export interface MeshModel {
  mesh: MeshResource;
  virtualNodes: VirtualNodeResource[];
  virtualServices: VirtualServiceResource[];
  virtualRouters: VirtualRouterResource[];
  routes: RouteResource[];
  virtualGateways: VirtualGatewayResource[];
  gatewayRoutes: GatewayRouteResource[];
}
