/**
 * Node configs for the Weft paths, sealed with the same contract code the compiler uses, so the
 * sidecar under test parses exactly what it would in production.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { meshDefaultRetryPolicy, sealNodeConfig, spiffeId, type NodeConfig } from '../proxy/contracts';
import { BENCH_MESH, BENCH_TRUST_DOMAIN } from './certs';

/** The virtual service the app calls through the egress listener (the Host header). */
export const BENCH_SERVICE = 'app.bench.local';
/** The port of that virtual service as the app sees it. */
export const BENCH_SERVICE_PORT = 80;

// What the compiler writes for a route without its own policy or timeout.
const ROUTE_DEFAULTS = {
  retryPolicy: meshDefaultRetryPolicy('http', 15_000),
  timeout: { perRequestMs: 15_000, idleMs: 300_000 },
};

function meshAndNode(node: string): Pick<NodeConfig, 'mesh' | 'node'> {
  return {
    mesh: { name: BENCH_MESH, egressFilter: 'DROP_ALL', trustDomain: BENCH_TRUST_DOMAIN },
    node: { kind: 'virtualNode', name: node, spiffeId: spiffeId(BENCH_TRUST_DOMAIN, BENCH_MESH, node) },
  };
}

export interface OutboundNodeOptions {
  node: string;
  /** Virtual node the backend service routes to (names the cluster). */
  targetNode: string;
  /** The target node's app (listener) port: the cluster's port. */
  targetPort: number;
  /** Where the cluster's single static endpoint is: the upstream itself or the peer sidecar. */
  endpointPort: number;
  /** Where the resilience path's mirror goes: a server that accepts and never answers. */
  mirrorPort?: number;
  /** MUTUAL TLS to the endpoint, verifying the peer's SPIFFE id. */
  mtls: boolean;
  /**
   * The resilience features on, as a mesh that uses them would have them: outlier detection and an
   * active health check on the cluster, and 10% of requests mirrored to a shadow cluster at
   * `mirrorPort`, which never answers: the issue's acceptance is that such a mirror leaves the
   * primary's p99 unchanged (the copies fill the mirror's in-flight cap and the rest are dropped).
   */
  resilience?: boolean;
  /** An access log of every request, Weft's default JSON line, to stdout. */
  accessLog?: boolean;
  /** Tracing on at {@link BENCH_TRACING_PERCENT}, spans exported to this OTLP/HTTP endpoint. */
  tracingEndpoint?: string;
}

/** The observability path's sampling rate: Istio's default. */
export const BENCH_TRACING_PERCENT = 1;

const tracingAt = (endpoint: string | undefined) => (endpoint === undefined ? {} : { tracing: { samplingPercentage: BENCH_TRACING_PERCENT, endpoint } });

const STDOUT_ACCESS_LOG = { accessLog: { path: '/dev/stdout' } };

/** The shadow cluster's virtual node, for the resilience path's mirror. */
const SHADOW_NODE = 'shadow';

/** A caller node: one backend virtual service, one HTTP route to one static-discovery cluster. */
export function outboundNodeConfig(o: OutboundNodeOptions): NodeConfig {
  const cluster = `${o.targetNode}:${o.targetPort}`;
  return sealNodeConfig({
    ...meshAndNode(o.node),
    ...(o.accessLog ? { logging: STDOUT_ACCESS_LOG } : {}),
    ...tracingAt(o.tracingEndpoint),
    inbound: { listeners: [], policy: {} },
    outbound: {
      services: [
        {
          name: BENCH_SERVICE,
          listeners: [
            {
              port: BENCH_SERVICE_PORT,
              protocol: 'http',
              routes: [
                {
                  protocol: 'http',
                  name: `${BENCH_SERVICE}/default`,
                  priority: 0,
                  match: { path: { prefix: '/' } },
                  action: { weightedTargets: [{ cluster, weight: 1 }] },
                  ...ROUTE_DEFAULTS,
                  ...(o.resilience ? { mirror: { cluster: `${SHADOW_NODE}:${o.targetPort}`, percentage: 10 } } : {}),
                },
              ],
            },
          ],
        },
      ],
    },
    clusters: [
      {
        name: cluster,
        virtualNode: o.targetNode,
        port: o.targetPort,
        protocol: 'http',
        discovery: { type: 'static', endpoints: [{ address: '127.0.0.1', port: o.endpointPort }] },
        tls: o.mtls
          ? {
              mode: 'MUTUAL',
              certificate: { mesh: true },
              trust: { mesh: true },
              subjectAlternativeNames: [spiffeId(BENCH_TRUST_DOMAIN, BENCH_MESH, o.targetNode)],
            }
          : { mode: 'DISABLED' },
        ...(o.resilience
          ? {
              outlierDetection: { consecutive5xx: 5, consecutiveGatewayErrors: 5, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
              healthCheck: { protocol: 'http', path: '/', intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 },
            }
          : {}),
      },
      ...(o.resilience
        ? [
            {
              name: `${SHADOW_NODE}:${o.targetPort}`,
              virtualNode: SHADOW_NODE,
              port: o.targetPort,
              protocol: 'http' as const,
              // In plaintext: the mirror's cost is the copy, not a second TLS hop.
              discovery: { type: 'static' as const, endpoints: [{ address: '127.0.0.1', port: o.mirrorPort ?? o.endpointPort }] },
              tls: { mode: 'DISABLED' as const },
            },
          ]
        : []),
    ],
  });
}

/**
 * The weft-authz path's inbound policy: 10 ALLOW rules, the bench client's request (`GET /` from
 * the `client` node, with the {@link benchJwt} token) matching only the last, so every request
 * walks all of them.
 */
function benchAuthorization(): NodeConfig['inbound']['policy']['authorization'] {
  const client = spiffeId(BENCH_TRUST_DOMAIN, BENCH_MESH, 'client').slice('spiffe://'.length);
  const misses = Array.from({ length: 9 }, (_, i) => ({
    from: [{ principals: [`${BENCH_TRUST_DOMAIN}/ns/${BENCH_MESH}/sa/caller-${i}`] }],
    to: [{ methods: ['GET', 'POST'], paths: [`/api/v${i}/*`] }],
  }));
  const last = { from: [{ principals: [client], requestPrincipals: [`${BENCH_JWT_ISSUER}/*`] }], to: [{ methods: ['GET'], paths: ['/*'] }] };
  return [{ name: 'bench-allow', action: 'ALLOW', rules: [...misses, last] }];
}

const BENCH_JWT_ISSUER = 'https://issuer.bench.local';
let jwt: { rule: NodeConfig['inbound']['policy']['jwt'][number]; token: string } | undefined;

/**
 * The weft-authz path's JWT rule and the token its client sends (`access_token`): an RS256 key made
 * once per run, its public half as the rule's inline JWKS, a token valid for a day.
 */
export function benchJwt(): { rule: NodeConfig['inbound']['policy']['jwt'][number]; token: string } {
  if (jwt !== undefined) return jwt;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const signed = `${part({ alg: 'RS256', kid: 'bench', typ: 'JWT' })}.${part({ iss: BENCH_JWT_ISSUER, sub: 'client', aud: 'app', iat: now, exp: now + 86_400 })}`;
  const token = `${signed}.${sign('sha256', Buffer.from(signed), privateKey).toString('base64url')}`;
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' }] });
  jwt = {
    rule: { issuer: BENCH_JWT_ISSUER, audiences: ['app'], jwks, fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], fromParams: ['access_token'], forwardOriginalToken: false, outputClaimToHeaders: [] },
    token,
  };
  return jwt;
}

/** The weft-authz path's node rate limit: a billion tokens, never reached, so each request pays the bucket's cost and is never refused. */
const BENCH_RATE_LIMIT = { maxTokens: 1e9, tokensPerFill: 1e9, fillIntervalMs: 1_000 };

/** A serving node: one HTTP listener for the app port, STRICT mTLS with client certificates verified; `authz`: {@link benchAuthorization} behind {@link benchJwt}'s rule, and {@link BENCH_RATE_LIMIT}; `accessLog`: every request logged to stdout; `tracingEndpoint`: tracing on. */
export function inboundNodeConfig(node: string, appPort: number, opts: { authz?: boolean; accessLog?: boolean; tracingEndpoint?: string } = {}): NodeConfig {
  return sealNodeConfig({
    ...meshAndNode(node),
    ...(opts.accessLog ? { logging: STDOUT_ACCESS_LOG } : {}),
    ...tracingAt(opts.tracingEndpoint),
    inbound: {
      listeners: [
        {
          port: appPort,
          protocol: 'http',
          tls: { mode: 'STRICT', certificate: { mesh: true }, validation: { trust: { mesh: true } } },
          timeout: ROUTE_DEFAULTS.timeout,
        },
      ],
      policy: opts.authz ? { authorization: benchAuthorization(), jwt: [benchJwt().rule], rateLimit: BENCH_RATE_LIMIT } : {},
    },
    outbound: { services: [] },
    clusters: [],
  });
}
