/**
 * The node config: everything one sidecar needs to know about the mesh, and nothing more.
 *
 * This module is the contract between the compiler (lib/model), the config publisher (lambda/)
 * and the sidecar (proxy/). All three import it; none of them re-declares these shapes. It must not
 * import aws-cdk-lib or the AWS SDK, because the sidecar image bundles only proxy/.
 *
 * Conventions: durations are integer milliseconds (`...Ms`), names are App Mesh resource names,
 * lists are in a deterministic order chosen by the compiler, and the static part (this document) is
 * kept apart from the dynamic endpoints (an {@link EndpointSource} resolves `cluster.discovery`).
 */
import { z } from 'zod';
import { TRANSFORMS } from './compact/description';
import { NODE_CONFIG_SCHEMAS } from './schema-ids';

const name = z.string().min(1).max(255);
const port = z.number().int().min(1).max(65535);
const ms = z.number().int().min(0);
const percent = z.number().min(0).max(100);
const headerName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be an HTTP token (RFC 9110 field-name)')
  .transform(TRANSFORMS.lowerCase);

export const ProtocolSchema = z.enum(['http', 'http2', 'grpc', 'tcp']);
export type Protocol = z.infer<typeof ProtocolSchema>;

/** How one string is compared. Exactly one key is set; `present` matches any value. */
export const StringMatchSchema = z.union([
  z.strictObject({ exact: z.string() }),
  z.strictObject({ prefix: z.string().min(1) }),
  z.strictObject({ suffix: z.string().min(1) }),
  z.strictObject({ regex: z.string().min(1) }),
  z.strictObject({ range: z.strictObject({ start: z.number().int(), end: z.number().int() }) }),
  z.strictObject({ present: z.literal(true) }),
]);
export type StringMatch = z.infer<typeof StringMatchSchema>;

/** A header (or gRPC metadata, or query parameter) condition; `invert` negates the whole match. */
export const HeaderMatchSchema = z.strictObject({
  name: headerName,
  match: StringMatchSchema,
  invert: z.boolean().default(false),
});
export type HeaderMatch = z.infer<typeof HeaderMatchSchema>;

export const QueryMatchSchema = z.strictObject({ name: z.string().min(1), match: StringMatchSchema });
export type QueryMatch = z.infer<typeof QueryMatchSchema>;

export const PathMatchSchema = z.union([
  z.strictObject({ exact: z.string().startsWith('/') }),
  z.strictObject({ prefix: z.string().startsWith('/') }),
  z.strictObject({ regex: z.string().min(1) }),
]);
export type PathMatch = z.infer<typeof PathMatchSchema>;

/** Conditions of an HTTP (http, http2) route; all set conditions must hold. */
export const HttpMatchSchema = z.strictObject({
  path: PathMatchSchema.optional(),
  /** Istio `ignoreUriCase`: applies to exact and prefix path matches only. */
  ignoreCase: z.boolean().default(false),
  headers: z.array(HeaderMatchSchema).max(10).default([]),
  method: z.string().min(1).optional(),
  queryParameters: z.array(QueryMatchSchema).max(10).default([]),
  scheme: z.enum(['http', 'https']).optional(),
  port: port.optional(),
});
export type HttpMatch = z.infer<typeof HttpMatchSchema>;

export const GrpcMatchSchema = z.strictObject({
  serviceName: z.string().min(1).optional(),
  methodName: z.string().min(1).optional(),
  metadata: z.array(HeaderMatchSchema).max(10).default([]),
  port: port.optional(),
});
export type GrpcMatch = z.infer<typeof GrpcMatchSchema>;

export const HttpRetryEventSchema = z.enum(['server-error', 'gateway-error', 'client-error', 'stream-error']);
export const TcpRetryEventSchema = z.enum(['connection-error']);
export const GrpcRetryEventSchema = z.enum(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

/**
 * Retries as App Mesh states them, with Envoy's jittered exponential backoff. The compiler always
 * writes a policy (the mesh default when the route has none), so the sidecar never guesses.
 */
export const RetryPolicySchema = z.strictObject({
  maxRetries: z.number().int().min(0).max(25),
  perTryTimeoutMs: ms,
  httpRetryEvents: z.array(HttpRetryEventSchema).default([]),
  tcpRetryEvents: z.array(TcpRetryEventSchema).default([]),
  grpcRetryEvents: z.array(GrpcRetryEventSchema).default([]),
  /** Extra status codes that are retried (Envoy `retriable-status-codes`). */
  retriableStatusCodes: z.array(z.number().int().min(100).max(599)).default([]),
  backoffBaseMs: ms.default(25),
  backoffMaxMs: ms.default(250),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** `perRequestMs: 0` means no per-request deadline. */
export const TimeoutSchema = z.strictObject({ perRequestMs: ms, idleMs: ms });
export type Timeout = z.infer<typeof TimeoutSchema>;

export const FaultSchema = z.strictObject({
  delay: z.strictObject({ percentage: percent, fixedDelayMs: ms }).optional(),
  abort: z
    .strictObject({
      percentage: percent,
      httpStatus: z.number().int().min(200).max(599).optional(),
      grpcStatus: z.number().int().min(0).max(16).optional(),
    })
    .optional(),
});
export type Fault = z.infer<typeof FaultSchema>;

/** Fire-and-forget copy of requests to another cluster; the copy's Host gets a `-shadow` suffix. */
export const MirrorSchema = z.strictObject({ cluster: name, percentage: percent.default(100) });
export type Mirror = z.infer<typeof MirrorSchema>;

const HeaderValueSchema = z.strictObject({ name: headerName, value: z.string().max(8192) });
export const HeaderOpsSchema = z.strictObject({
  /** Replace any existing value. */
  set: z.array(HeaderValueSchema).default([]),
  /** Append a value, keeping existing ones. */
  add: z.array(HeaderValueSchema).default([]),
  remove: z.array(headerName).default([]),
});
export type HeaderOps = z.infer<typeof HeaderOpsSchema>;
export const HeaderRulesSchema = z.strictObject({
  request: HeaderOpsSchema.optional(),
  response: HeaderOpsSchema.optional(),
});
export type HeaderRules = z.infer<typeof HeaderRulesSchema>;

/**
 * Request rewrite before forwarding: `prefix` replaces the matched path prefix, `path` replaces
 * the whole path, `hostname` replaces the Host (authority).
 */
export const RewriteSchema = z.strictObject({
  prefix: z.string().startsWith('/').optional(),
  path: z.string().startsWith('/').optional(),
  hostname: z.string().min(1).optional(),
});
export type Rewrite = z.infer<typeof RewriteSchema>;

export const RedirectSchema = z.strictObject({
  scheme: z.enum(['http', 'https']).optional(),
  hostname: z.string().min(1).optional(),
  port: port.optional(),
  path: z.string().startsWith('/').optional(),
  prefix: z.string().startsWith('/').optional(),
  responseCode: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(301),
});
export type Redirect = z.infer<typeof RedirectSchema>;

/** Weights are kept exactly as the user wrote them; the sidecar divides by their sum. */
export const WeightedTargetSchema = z.strictObject({ cluster: name, weight: z.number().int().min(0).max(100) });
export type WeightedTarget = z.infer<typeof WeightedTargetSchema>;

export const RouteActionSchema = z.union([
  z.strictObject({ weightedTargets: z.array(WeightedTargetSchema).min(1).max(10) }),
  z.strictObject({ redirect: RedirectSchema }),
]);
export type RouteAction = z.infer<typeof RouteActionSchema>;

const routeCommon = {
  /** `<virtualRouter>/<route>` or `<virtualService>/default` for a service provided by a node. */
  name,
  priority: z.number().int().min(0).max(1000),
  action: RouteActionSchema,
  retryPolicy: RetryPolicySchema,
  timeout: TimeoutSchema,
};

export const HttpRouteSchema = z.strictObject({
  protocol: z.literal('http'),
  ...routeCommon,
  match: HttpMatchSchema,
  rewrite: RewriteSchema.optional(),
  headers: HeaderRulesSchema.optional(),
  /** When set, retries and timeouts are not applied to this route (Istio). */
  fault: FaultSchema.optional(),
  mirror: MirrorSchema.optional(),
});
export const GrpcRouteSchema = z.strictObject({
  protocol: z.literal('grpc'),
  ...routeCommon,
  match: GrpcMatchSchema,
  headers: HeaderRulesSchema.optional(),
  fault: FaultSchema.optional(),
  mirror: MirrorSchema.optional(),
});
export const TcpRouteSchema = z.strictObject({
  protocol: z.literal('tcp'),
  ...routeCommon,
  match: z.strictObject({ port: port.optional() }).default({}),
});
export const RouteSchema = z.discriminatedUnion('protocol', [HttpRouteSchema, GrpcRouteSchema, TcpRouteSchema]);
export type HttpRoute = z.infer<typeof HttpRouteSchema>;
export type GrpcRoute = z.infer<typeof GrpcRouteSchema>;
export type TcpRoute = z.infer<typeof TcpRouteSchema>;
export type Route = z.infer<typeof RouteSchema>;

/** One port of a backend virtual service as the local app sees it; routes in evaluation order. */
export const OutboundListenerSchema = z.strictObject({
  port,
  protocol: ProtocolSchema,
  routes: z.array(RouteSchema),
});
export type OutboundListener = z.infer<typeof OutboundListenerSchema>;

/** A virtual service this node may call. The app addresses it by `name` (optionally `name:port`). */
export const OutboundServiceSchema = z.strictObject({
  name,
  listeners: z.array(OutboundListenerSchema).min(1),
});
export type OutboundService = z.infer<typeof OutboundServiceSchema>;

export const CloudMapDiscoverySchema = z.strictObject({
  type: z.literal('cloudMap'),
  namespaceName: name,
  serviceName: name,
  /** Instances must carry every one of these attributes (DiscoverInstances QueryParameters). */
  attributes: z.record(z.string(), z.string()).default({}),
  ipPreference: z.enum(['IPv4_ONLY', 'IPv6_ONLY', 'IPv4_PREFERRED', 'IPv6_PREFERRED']).optional(),
});
export const DnsDiscoverySchema = z.strictObject({
  type: z.literal('dns'),
  hostname: z.string().min(1),
  /** Port to dial; defaults to the target listener's port (transparent mode redirects it). */
  port: port.optional(),
  responseType: z.enum(['LOADBALANCER', 'ENDPOINTS']).default('LOADBALANCER'),
});
export const StaticEndpointSchema = z.strictObject({
  address: z.string().min(1),
  port,
  zone: z.string().min(1).optional(),
  weight: z.number().int().min(1).max(128).default(1),
});
export type StaticEndpoint = z.infer<typeof StaticEndpointSchema>;
export const StaticDiscoverySchema = z.strictObject({
  type: z.literal('static'),
  endpoints: z.array(StaticEndpointSchema).min(1),
});
export const DiscoverySchema = z.discriminatedUnion('type', [CloudMapDiscoverySchema, DnsDiscoverySchema, StaticDiscoverySchema]);
export type Discovery = z.infer<typeof DiscoverySchema>;
export type CloudMapDiscovery = z.infer<typeof CloudMapDiscoverySchema>;

export const LoadBalancerSchema = z.strictObject({
  policy: z.enum(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'CONSISTENT_HASH']).default('ROUND_ROBIN'),
  /** Required with CONSISTENT_HASH: what the hash is taken from. Ring of `ringSize` points. */
  consistentHash: z
    .union([
      z.strictObject({ header: headerName }),
      z.strictObject({ cookie: z.strictObject({ name: z.string().min(1), ttlMs: ms.optional(), path: z.string().optional() }) }),
      z.strictObject({ sourceIp: z.literal(true) }),
    ])
    .optional(),
  ringSize: z.number().int().min(16).max(65536).default(1024),
  /** Prefer endpoints in the caller's zone while at least `minHealthyPercent` of them are healthy. */
  zoneAware: z.strictObject({ minHealthyPercent: percent.default(70) }).optional(),
});
export type LoadBalancer = z.infer<typeof LoadBalancerSchema>;

/** Circuit-breaker limits per cluster (Envoy defaults: 1,024 each, 3 concurrent retries). */
export const ConnectionPoolSchema = z.strictObject({
  maxConnections: z.number().int().min(1).default(1024),
  maxPendingRequests: z.number().int().min(1).default(1024),
  maxRequests: z.number().int().min(1).default(1024),
  maxRetries: z.number().int().min(0).default(3),
  /** 1 disables keep-alive (Istio `maxRequestsPerConnection`); 0 is unlimited. */
  maxRequestsPerConnection: z.number().int().min(0).default(0),
});
export type ConnectionPool = z.infer<typeof ConnectionPoolSchema>;

export const OutlierDetectionSchema = z.strictObject({
  consecutive5xx: z.number().int().min(1),
  consecutiveGatewayErrors: z.number().int().min(1).optional(),
  intervalMs: ms,
  baseEjectionMs: ms,
  maxEjectionMs: ms.default(300_000),
  maxEjectionPercent: percent,
});
export type OutlierDetection = z.infer<typeof OutlierDetectionSchema>;

export const HealthCheckSchema = z.strictObject({
  protocol: ProtocolSchema,
  path: z.string().startsWith('/').default('/'),
  port: port.optional(),
  intervalMs: z.number().int().min(5000).max(300000),
  timeoutMs: z.number().int().min(2000).max(60000),
  healthyThreshold: z.number().int().min(2).max(10),
  unhealthyThreshold: z.number().int().min(2).max(10),
});
export type HealthCheck = z.infer<typeof HealthCheckSchema>;

/**
 * Where a certificate or trust bundle comes from. `mesh` is the node's own mesh identity (the
 * sidecar's certificate source setting: local files or the node's Secrets Manager secret).
 */
export const CertificateRefSchema = z.union([
  z.strictObject({ mesh: z.literal(true) }),
  z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1), privateKey: z.string().min(1) }) }),
]);
export const TrustRefSchema = z.union([
  z.strictObject({ mesh: z.literal(true) }),
  z.strictObject({ file: z.strictObject({ certificateChain: z.string().min(1) }) }),
]);
export type CertificateRef = z.infer<typeof CertificateRefSchema>;
export type TrustRef = z.infer<typeof TrustRefSchema>;

/** TLS the sidecar originates towards a cluster's endpoints. */
export const ClientTlsSchema = z.strictObject({
  mode: z.enum(['DISABLED', 'MUTUAL', 'SIMPLE']),
  /** Client certificate presented with MUTUAL. */
  certificate: CertificateRefSchema.optional(),
  trust: TrustRefSchema.optional(),
  /** Accepted peer URI/DNS SANs; empty accepts any certificate the trust verifies. */
  subjectAlternativeNames: z.array(z.string().min(1)).default([]),
  sni: z.string().min(1).optional(),
});
export type ClientTls = z.infer<typeof ClientTlsSchema>;

/** TLS the sidecar terminates on an inbound or gateway listener. */
export const ServerTlsSchema = z.strictObject({
  mode: z.enum(['STRICT', 'PERMISSIVE', 'DISABLED']),
  certificate: CertificateRefSchema.optional(),
  /** When set, client certificates are required (STRICT) and verified against it. */
  validation: z
    .strictObject({ trust: TrustRefSchema, subjectAlternativeNames: z.array(z.string().min(1)).default([]) })
    .optional(),
});
export type ServerTls = z.infer<typeof ServerTlsSchema>;

/** An upstream: one listener port of one virtual node, and how to reach its endpoints. */
export const ClusterSchema = z.strictObject({
  /** `<virtualNode>:<port>` */
  name,
  virtualNode: name,
  port,
  protocol: ProtocolSchema,
  discovery: DiscoverySchema,
  loadBalancer: LoadBalancerSchema.default({ policy: 'ROUND_ROBIN', ringSize: 1024 }),
  connectionPool: ConnectionPoolSchema.default({
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    maxRequestsPerConnection: 0,
  }),
  outlierDetection: OutlierDetectionSchema.optional(),
  healthCheck: HealthCheckSchema.optional(),
  tls: ClientTlsSchema.default({ mode: 'DISABLED', subjectAlternativeNames: [] }),
  connectTimeoutMs: ms.default(10_000),
  idleTimeoutMs: ms.default(300_000),
});
export type Cluster = z.infer<typeof ClusterSchema>;

// --- Inbound policy (zero trust). Istio's AuthorizationPolicy / RequestAuthentication shapes. ---

const strings = z.array(z.string().min(1)).optional();
export const AuthzSourceSchema = z.strictObject({
  principals: strings,
  notPrincipals: strings,
  requestPrincipals: strings,
  notRequestPrincipals: strings,
  namespaces: strings,
  notNamespaces: strings,
  ipBlocks: strings,
  notIpBlocks: strings,
});
export const AuthzOperationSchema = z.strictObject({
  hosts: strings,
  notHosts: strings,
  ports: z.array(port).optional(),
  notPorts: z.array(port).optional(),
  methods: strings,
  notMethods: strings,
  paths: strings,
  notPaths: strings,
});
export const AuthzConditionSchema = z.strictObject({ key: z.string().min(1), values: strings, notValues: strings });
export const AuthzRuleSchema = z.strictObject({
  from: z.array(AuthzSourceSchema).optional(),
  to: z.array(AuthzOperationSchema).optional(),
  when: z.array(AuthzConditionSchema).optional(),
});
export const AuthzPolicySchema = z.strictObject({
  name,
  action: z.enum(['ALLOW', 'DENY', 'AUDIT']).default('ALLOW'),
  /** No rules with ALLOW allows nothing; `[{}]` allows everything (Istio). */
  rules: z.array(AuthzRuleSchema).default([]),
});
export type AuthzPolicy = z.infer<typeof AuthzPolicySchema>;

export const JwtRuleSchema = z.strictObject({
  issuer: z.string().min(1),
  audiences: z.array(z.string().min(1)).default([]),
  jwksUri: z.string().url().optional(),
  /** Inline JWKS JSON, for tests and air-gapped meshes. */
  jwks: z.string().min(2).optional(),
  fromHeaders: z
    .array(z.strictObject({ name: headerName, prefix: z.string().default('') }))
    .default([{ name: 'authorization', prefix: 'Bearer ' }]),
  fromParams: z.array(z.string().min(1)).default(['access_token']),
  forwardOriginalToken: z.boolean().default(false),
  outputClaimToHeaders: z.array(z.strictObject({ header: headerName, claim: z.string().min(1) })).default([]),
});
export type JwtRule = z.infer<typeof JwtRuleSchema>;

/** What a keyed rate limit counts by: a request header's value, the peer's address, or its mTLS identity (SPIFFE id). */
export const RateLimitKeySchema = z.union([
  z.strictObject({ header: headerName }),
  z.strictObject({ sourceIp: z.literal(true) }),
  z.strictObject({ principal: z.literal(true) }),
]);
export type RateLimitKey = z.infer<typeof RateLimitKeySchema>;

/** The most distinct keys a keyed limit may track (its table's cap). */
export const MAX_RATE_LIMIT_KEYS = 1_000_000;

/**
 * A token bucket per distinct value of `key` (schema v2), in a table of at most `maxKeys` buckets
 * (a key not used lately evicted). A request without the key (no such header, no mTLS identity) is
 * not limited by it.
 */
export const KeyedRateLimitSchema = z.strictObject({
  key: RateLimitKeySchema,
  maxTokens: z.number().int().min(1),
  tokensPerFill: z.number().int().min(1),
  fillIntervalMs: z.number().int().min(1),
  maxKeys: z.number().int().min(1).max(MAX_RATE_LIMIT_KEYS).default(10_000),
});
export type KeyedRateLimit = z.infer<typeof KeyedRateLimitSchema>;

/**
 * A local token bucket in each sidecar (Envoy's local rate limit): one bucket for the node's (or
 * gateway's) listeners, so a limit is per replica. A TCP connection takes one token when it opens.
 */
export const RateLimitSchema = z.strictObject({
  maxTokens: z.number().int().min(1),
  tokensPerFill: z.number().int().min(1),
  fillIntervalMs: z.number().int().min(1),
  statusCode: z.number().int().min(400).max(599).default(429),
  /** Buckets per caller as well; a request must pass its keys' buckets and the node's. Since v2. */
  perKey: z.array(KeyedRateLimitSchema).min(1).max(8).optional(),
});
export type RateLimit = z.infer<typeof RateLimitSchema>;

export const InboundPolicySchema = z.strictObject({
  authorization: z.array(AuthzPolicySchema).default([]),
  jwt: z.array(JwtRuleSchema).default([]),
  rateLimit: RateLimitSchema.optional(),
});
export type InboundPolicy = z.infer<typeof InboundPolicySchema>;

/** A port of the local app, as peers reach it through this sidecar. */
export const InboundListenerSchema = z.strictObject({
  port,
  protocol: ProtocolSchema,
  tls: ServerTlsSchema.default({ mode: 'DISABLED' }),
  timeout: TimeoutSchema,
  connectionPool: ConnectionPoolSchema.optional(),
  outlierDetection: OutlierDetectionSchema.optional(),
  healthCheck: HealthCheckSchema.optional(),
});
export type InboundListener = z.infer<typeof InboundListenerSchema>;

export const HostnameMatchSchema = z.union([
  z.strictObject({ exact: z.string().min(1) }),
  z.strictObject({ suffix: z.string().min(1) }),
]);

/** A VirtualGateway's route from the edge to a virtual service of the mesh. */
export const GatewayRouteSchema = z.strictObject({
  name,
  priority: z.number().int().min(0).max(1000),
  protocol: z.enum(['http', 'grpc']),
  match: z.strictObject({
    hostname: HostnameMatchSchema.optional(),
    path: PathMatchSchema.optional(),
    headers: z.array(HeaderMatchSchema).max(10).default([]),
    method: z.string().min(1).optional(),
    queryParameters: z.array(QueryMatchSchema).max(10).default([]),
    serviceName: z.string().min(1).optional(),
    port: port.optional(),
  }),
  target: z.strictObject({ virtualService: name, port: port.optional() }),
  rewrite: z.strictObject({
    /** Replacement for a matched prefix; App Mesh's default rewrites it to `/`. Absent: no rewrite. */
    prefix: z.string().startsWith('/').optional(),
    /** Replacement for the whole path (exact and regex matches). */
    path: z.string().startsWith('/').optional(),
    /** Rewrite Host to the target virtual service's name (App Mesh default: true). */
    hostnameToTarget: z.boolean().default(true),
  }),
});
export type GatewayRoute = z.infer<typeof GatewayRouteSchema>;

export const GatewayListenerSchema = z.strictObject({
  port,
  protocol: z.enum(['http', 'http2', 'grpc']),
  tls: ServerTlsSchema.default({ mode: 'DISABLED' }),
  connectionPool: ConnectionPoolSchema.optional(),
  healthCheck: HealthCheckSchema.optional(),
});
export type GatewayListener = z.infer<typeof GatewayListenerSchema>;

export const AccessLogSchema = z.strictObject({
  path: z.string().min(1),
  /** Absent: Weft's default JSON line. `text` uses Envoy-style `%FIELD%` operators. */
  format: z.union([z.strictObject({ text: z.string().min(1) }), z.strictObject({ json: z.record(z.string(), z.string()) })]).optional(),
  /** Share of records logged, 0-100 (Istio Telemetry users filter logs). Absent: every record. Since v2. */
  samplePercent: z.number().min(0).max(100).optional(),
});

/** Where spans go when a mesh turns tracing on without naming a collector: the ADOT collector sidecar's OTLP/HTTP endpoint. */
export const DEFAULT_TRACING_ENDPOINT = 'http://localhost:4318/v1/traces';

/**
 * Distributed tracing (schema v2). Present: the sidecar propagates trace context on every HTTP hop,
 * writes a span per sampled request and exports spans to `endpoint`; absent: none of it.
 */
export const TracingSchema = z.strictObject({
  /** Percentage of new traces sampled (requests that arrive without a sampling decision), 0-100. */
  samplingPercentage: percent,
  /** The collector's OTLP/HTTP traces endpoint (protobuf), e.g. `http://localhost:4318/v1/traces`. */
  endpoint: z.string().url().regex(/^https?:\/\/[^/?#]/, 'must be an http:// or https:// URL'),
});
export type Tracing = z.infer<typeof TracingSchema>;

/**
 * A field or enum value added after v1 is optional without a default and has an entry in
 * NODE_CONFIG_FEATURES (node-config-features.ts), so configs that do not use it keep their version.
 */
export const NodeConfigSchema = z.strictObject({
  /** `weft.dev/node-config/v<N>`: the lowest schema version that expresses this config. */
  schema: z.literal(NODE_CONFIG_SCHEMAS),
  /** Content hash of the rest of the document (see `nodeConfigVersion`); changes iff content does. */
  version: z.string().regex(/^[0-9a-f]{16,64}$/),
  mesh: z.strictObject({
    name,
    egressFilter: z.enum(['ALLOW_ALL', 'DROP_ALL']),
    trustDomain: z.string().min(1),
  }),
  node: z.strictObject({
    kind: z.enum(['virtualNode', 'virtualGateway']),
    name,
    spiffeId: z.string().startsWith('spiffe://'),
  }),
  /** Virtual nodes: the local app's ports. Empty for gateways. */
  inbound: z.strictObject({
    listeners: z.array(InboundListenerSchema),
    policy: InboundPolicySchema,
  }),
  /** Virtual gateways only. */
  gateway: z
    .strictObject({
      listeners: z.array(GatewayListenerSchema).min(1),
      routes: z.array(GatewayRouteSchema),
      policy: InboundPolicySchema,
    })
    .optional(),
  outbound: z.strictObject({ services: z.array(OutboundServiceSchema) }),
  clusters: z.array(ClusterSchema),
  logging: z.strictObject({ accessLog: AccessLogSchema.optional() }).default({}),
  tracing: TracingSchema.optional(),
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;
/** What the compiler writes before defaults are applied (optional fields may be omitted). */
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;
