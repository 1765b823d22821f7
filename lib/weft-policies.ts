/**
 * Weft extensions beyond App Mesh: inbound policy (Istio AuthorizationPolicy and
 * RequestAuthentication shapes, local rate limits) and load balancing of a node's endpoints.
 * The sidecar enforces authorization, JWT rules and rate limits; the constructs check each where
 * it is written.
 */
import type * as cdk from 'aws-cdk-lib';
import type { z } from 'zod';
import { authorizationIssues, AuthzPolicySchema, ContractError, JwtRuleSchema, jwtRuleIssues, MAX_RATE_LIMIT_KEYS, parseWith, RateLimitKeySchema, type KeyedRateLimit as KeyedRateLimitConfig, type RateLimit as RateLimitConfig } from '../proxy/contracts';
import type { LoadBalancerSchema } from './model/schema';
import { checkCount, checkIntRange, checkRange } from './private/checks';
import { compact, renderDuration } from './private/model-shapes';

/**
 * An Istio-shaped authorization policy: `action` (ALLOW default, DENY, AUDIT) and `rules` with
 * `from` (principals are SPIFFE ids, e.g. `spiffe://<trustDomain>/ns/<mesh>/sa/<node>`), `to`
 * (methods, paths, ports, hosts) and `when` conditions. DENY policies are evaluated first; when
 * any ALLOW policy exists, a request must match one of them.
 */
export type AuthorizationPolicy = z.input<typeof AuthzPolicySchema>;

/** An Istio RequestAuthentication JWT rule (issuer, audiences, JWKS, where the token is read from). */
export type JwtRule = z.input<typeof JwtRuleSchema>;

/** What a keyed rate limit counts by. */
export abstract class RateLimitKey {
  /** The value of a request header (a request without it is not limited by the keyed limit). */
  static header(name: string): RateLimitKey {
    return new RateLimitKeyImpl({ header: name });
  }
  /** The caller's address (the TCP peer of the sidecar). */
  static sourceIp(): RateLimitKey {
    return new RateLimitKeyImpl({ sourceIp: true });
  }
  /** The caller's mTLS identity (its SPIFFE id); a plaintext caller is not limited by the keyed limit. */
  static principal(): RateLimitKey {
    return new RateLimitKeyImpl({ principal: true });
  }
  /** Renders the key as the node config writes it. */
  abstract bind(): KeyedRateLimitConfig['key'];
}

class RateLimitKeyImpl extends RateLimitKey {
  constructor(private readonly key: KeyedRateLimitConfig['key']) {
    super();
  }
  bind(): KeyedRateLimitConfig['key'] {
    return this.key;
  }
}

/** A token bucket of the same shape for each distinct value of a key. */
export interface KeyedRateLimit {
  readonly key: RateLimitKey;
  /** Bucket size, per key. */
  readonly maxTokens: number;
  /** Tokens added each fill interval, per key. */
  readonly tokensPerFill: number;
  /** Time between fills. */
  readonly fillInterval: cdk.Duration;
  /**
   * The most keys tracked at once (a key not used lately is evicted), per sidecar.
   * @default 10000
   */
  readonly maxKeys?: number;
}

/**
 * Local token-bucket rate limit of a node's or gateway's inbound traffic, enforced by each
 * sidecar: the limit holds per replica (a task), not for the node as a whole.
 */
export interface RateLimit {
  /** Bucket size. */
  readonly maxTokens: number;
  /** Tokens added each fill interval. */
  readonly tokensPerFill: number;
  /** Time between fills. */
  readonly fillInterval: cdk.Duration;
  /**
   * Status of refused requests.
   * @default 429
   */
  readonly statusCode?: number;
  /**
   * Buckets per caller as well (a header value, source address or principal); a request must pass them and the node's bucket.
   * @default - the node's bucket only
   */
  readonly perKey?: KeyedRateLimit[];
}

/** Checks policies where they are written (shape, then values) and applies the contract's defaults (ALLOW). */
export function renderAuthorization(policies: AuthorizationPolicy[] | undefined): z.infer<typeof AuthzPolicySchema>[] | undefined {
  const parsed = policies?.map((p, i) => parseWith(AuthzPolicySchema, p, 'WEFT_ERR_POLICY_INVALID', `authorization[${i}]`));
  const issues = authorizationIssues(parsed ?? [], 'authorization');
  if (issues.length > 0) throw new ContractError('WEFT_ERR_POLICY_INVALID', 'authorization', issues);
  return parsed;
}

/** Checks JWT rules where they are written (shape, then key source and inline JWKS) and applies the contract's defaults. */
export function renderJwt(rules: JwtRule[] | undefined): z.infer<typeof JwtRuleSchema>[] | undefined {
  const parsed = rules?.map((r, i) => parseWith(JwtRuleSchema, r, 'WEFT_ERR_POLICY_INVALID', `jwt[${i}]`));
  const issues = jwtRuleIssues(parsed ?? [], 'jwt');
  if (issues.length > 0) throw new ContractError('WEFT_ERR_POLICY_INVALID', 'jwt', issues);
  return parsed;
}

export function renderRateLimit(r: RateLimit | undefined): RateLimitConfig | undefined {
  if (!r) return undefined;
  const bucket = renderBucket('rateLimit', r);
  checkIntRange('rateLimit.statusCode', r.statusCode, 400, 599);
  checkCount('rateLimit.perKey', r.perKey, 1, 8);
  const perKey = r.perKey?.map((k, i): KeyedRateLimitConfig => {
    checkIntRange(`rateLimit.perKey[${i}].maxKeys`, k.maxKeys, 1, MAX_RATE_LIMIT_KEYS);
    const key = parseWith(RateLimitKeySchema, k.key.bind(), 'WEFT_ERR_POLICY_INVALID', `rateLimit.perKey[${i}].key`);
    return { key, ...renderBucket(`rateLimit.perKey[${i}]`, k), maxKeys: k.maxKeys ?? 10_000 };
  });
  return { ...bucket, statusCode: r.statusCode ?? 429, ...(perKey && { perKey }) };
}

function renderBucket(at: string, b: Pick<RateLimit, 'maxTokens' | 'tokensPerFill' | 'fillInterval'>): Pick<RateLimitConfig, 'maxTokens' | 'tokensPerFill' | 'fillIntervalMs'> {
  checkIntRange(`${at}.maxTokens`, b.maxTokens, 1, Number.MAX_SAFE_INTEGER);
  checkIntRange(`${at}.tokensPerFill`, b.tokensPerFill, 1, Number.MAX_SAFE_INTEGER);
  if (b.fillInterval.toMilliseconds() < 1) throw new Error(`${at}.fillInterval must be at least 1 ms, got: ${b.fillInterval.toHumanString()}`);
  return { maxTokens: b.maxTokens, tokensPerFill: b.tokensPerFill, fillIntervalMs: b.fillInterval.toMilliseconds() };
}

/** Load-balancing policies. */
export enum LoadBalancingPolicy {
  /** Weighted round robin. */
  ROUND_ROBIN = 'ROUND_ROBIN',
  /** Power of two choices on outstanding requests. */
  LEAST_REQUEST = 'LEAST_REQUEST',
  /** Uniformly random. */
  RANDOM = 'RANDOM',
  /** Ring hash on a request key (sticky sessions). */
  CONSISTENT_HASH = 'CONSISTENT_HASH',
}

/** Options shared by every load balancer. */
export interface LoadBalancerOptions {
  /**
   * Prefer endpoints in the caller's availability zone while at least this percentage of them is healthy.
   * @default - no zone preference
   */
  readonly zoneAwareMinHealthyPercent?: number;
}

/** How callers balance requests over this node's endpoints. */
export abstract class LoadBalancer {
  /** Round robin. */
  static roundRobin(options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.ROUND_ROBIN, undefined, options);
  }
  /** Least outstanding requests. */
  static leastRequest(options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.LEAST_REQUEST, undefined, options);
  }
  /** Random. */
  static random(options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.RANDOM, undefined, options);
  }
  /** Consistent hash on a request header. */
  static consistentHashByHeader(header: string, options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.CONSISTENT_HASH, { header }, options);
  }
  /** Consistent hash on a cookie, which the sidecar sets with `ttl` when absent. */
  static consistentHashByCookie(name: string, ttl?: cdk.Duration, options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.CONSISTENT_HASH, { cookie: compact({ name, ttl: renderDuration(ttl) }) }, options);
  }
  /** Consistent hash on the client address. */
  static consistentHashBySourceIp(options: LoadBalancerOptions = {}): LoadBalancer {
    return new LoadBalancerImpl(LoadBalancingPolicy.CONSISTENT_HASH, { sourceIp: true }, options);
  }
  /** Renders the load balancer. */
  abstract bind(): z.infer<typeof LoadBalancerSchema>;
}

class LoadBalancerImpl extends LoadBalancer {
  constructor(
    private readonly policy: LoadBalancingPolicy,
    private readonly hash: z.infer<typeof LoadBalancerSchema>['consistentHash'],
    private readonly options: LoadBalancerOptions,
  ) {
    super();
    checkRange('zoneAwareMinHealthyPercent', options.zoneAwareMinHealthyPercent, 0, 100);
  }
  bind(): z.infer<typeof LoadBalancerSchema> {
    const pct = this.options.zoneAwareMinHealthyPercent;
    return compact({
      policy: this.policy,
      consistentHash: this.hash,
      zoneAware: pct !== undefined ? { minHealthyPercent: pct } : undefined,
    });
  }
}
