/**
 * Weft extensions beyond App Mesh: inbound policy (Istio AuthorizationPolicy and
 * RequestAuthentication shapes, local rate limits) and load balancing of a node's endpoints.
 * The sidecar enforces authorization and JWT rules; it does not enforce rate limits yet, so nodes
 * and gateways refuse those (after checking their shape here).
 */
import type * as cdk from 'aws-cdk-lib';
import type { z } from 'zod';
import { authorizationIssues, AuthzPolicySchema, ContractError, JwtRuleSchema, jwtRuleIssues, parseWith } from '../proxy/contracts';
import type { LoadBalancerSchema } from './model/schema';
import { checkIntRange, checkRange } from './private/checks';
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

/** Local token-bucket rate limit of a node's or gateway's inbound traffic. */
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

export function renderRateLimit(r: RateLimit | undefined): { maxTokens: number; tokensPerFill: number; fillIntervalMs: number; statusCode: number } | undefined {
  if (!r) return undefined;
  checkIntRange('rateLimit.maxTokens', r.maxTokens, 1, Number.MAX_SAFE_INTEGER);
  checkIntRange('rateLimit.tokensPerFill', r.tokensPerFill, 1, Number.MAX_SAFE_INTEGER);
  checkIntRange('rateLimit.statusCode', r.statusCode, 400, 599);
  if (r.fillInterval.toMilliseconds() < 1) throw new Error(`rateLimit.fillInterval must be at least 1 ms, got: ${r.fillInterval.toHumanString()}`);
  return { maxTokens: r.maxTokens, tokensPerFill: r.tokensPerFill, fillIntervalMs: r.fillInterval.toMilliseconds(), statusCode: r.statusCode ?? 429 };
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
