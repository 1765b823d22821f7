/**
 * Local rate limits (Envoy's local rate limit, as Istio configures it): the config's `rateLimit`
 * compiled into a {@link PolicyCheck} for the inbound listeners and one for the gateway's, after
 * authorization, so a refused caller spends no token (see docs/security.md, "Rate limits").
 *
 * - One bucket per sidecar and listener kind: a node's limit holds for each replica, not for the
 *   node as a whole. An HTTP request takes a token; a TCP connection takes one when it opens.
 * - `perKey` limits add a bucket per header value, source address or peer principal, in a table
 *   bounded by `maxKeys`; a request must pass its keys' buckets and then the node's (Envoy's
 *   `consume_default_token_bucket`). A request without the key is limited by the node bucket only.
 * - Over a limit: the configured status (429 by default) with `retry-after` (whole seconds until
 *   the bucket's next fill), code WEFT_ERR_RATE_LIMITED, flag RL; gRPC gets RESOURCE_EXHAUSTED.
 *
 * {@link RateLimits} keeps the checks of the config in force, so a reload that leaves a limit as
 * it was keeps its buckets (no burst of fresh tokens on every reload); a changed limit starts full.
 */
import { canonicalJson } from '../contracts/node-config-io';
import type { KeyedRateLimit, NodeConfig, RateLimit } from '../contracts/node-config';
import { RESPONSE_FLAGS } from '../exchange/record';
import type { Refusal } from '../exchange/responder';
import { GRPC_STATUS } from '../message/grpc';
import { BucketTable } from './bucket-table';
import type { PolicyCheck, PolicyFactory, PolicyRequest } from './policy';
import { TokenBucket } from './token-bucket';

/** The code of a request or connection refused by a local rate limit. */
export const RATE_LIMITED = 'WEFT_ERR_RATE_LIMITED';

/** Refusals are cached by their `retry-after` up to an hour: refusing allocates nothing after the first of each. */
const CACHED_SECONDS = 3600;

type KeyOf = (request: PolicyRequest) => string | undefined;

function keyReader(key: KeyedRateLimit['key']): KeyOf {
  if ('header' in key) {
    const name = key.header;
    return (r) => {
      const v = r.http?.req.headers[name];
      return v === undefined || typeof v === 'string' ? v : v.join(',');
    };
  }
  if ('sourceIp' in key) return (r) => r.peerAddress;
  return (r) => r.peer.principal;
}

interface Keyed {
  readonly keyOf: KeyOf;
  readonly table: BucketTable;
}

/** One listener kind's rate limit: its node bucket and its keyed tables. */
export class RateLimitCheck implements PolicyCheck {
  readonly name = 'rate-limit';
  private readonly bucket: TokenBucket;
  private readonly keyed: readonly Keyed[];
  private readonly refusals: Refusal[] = [];

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    const t = now();
    this.bucket = new TokenBucket(limit, t);
    this.keyed = (limit.perKey ?? []).map((k) => ({ keyOf: keyReader(k.key), table: new BucketTable(k, k.maxKeys) }));
  }

  check(request: PolicyRequest): Refusal | undefined {
    const now = this.now();
    const keyed = this.keyed;
    let taken = 0;
    for (; taken < keyed.length; taken++) {
      const key = keyed[taken].keyOf(request);
      if (key === undefined) continue;
      const b = keyed[taken].table.bucket(key, now);
      if (!b.take(now)) return this.refuse(b, now, request, taken);
    }
    if (this.bucket.take(now)) return undefined;
    return this.refuse(this.bucket, now, request, taken);
  }

  /** The buckets of the keyed limits (tests, admin). */
  tables(): readonly BucketTable[] {
    return this.keyed.map((k) => k.table);
  }

  private refuse(bucket: TokenBucket, now: number, request: PolicyRequest, taken: number): Refusal {
    // Tokens the request took from its earlier keys' buckets go back: it was not let through.
    for (let i = 0; i < taken; i++) {
      const key = this.keyed[i].keyOf(request);
      if (key !== undefined) this.keyed[i].table.bucket(key, now).untake();
    }
    const seconds = Math.max(1, Math.ceil(bucket.msUntilFill(now) / 1000));
    const cached = seconds <= CACHED_SECONDS ? this.refusals[seconds] : undefined;
    if (cached !== undefined) return cached;
    const refusal: Refusal = Object.freeze({
      status: this.limit.statusCode,
      code: RATE_LIMITED,
      flag: RESPONSE_FLAGS.rateLimited,
      grpcStatus: GRPC_STATUS.RESOURCE_EXHAUSTED,
      headers: Object.freeze({ 'retry-after': String(seconds) }) as Record<string, string>,
    });
    if (seconds <= CACHED_SECONDS) this.refusals[seconds] = refusal;
    return refusal;
  }
}

interface Built {
  readonly key: string;
  readonly check: RateLimitCheck;
}

/**
 * The rate-limit policy of one sidecar: a {@link PolicyFactory} that remembers the checks it built
 * for each listener kind and returns one again while its limit is unchanged. It remembers the last
 * two limits, not one: a config can be compiled and then refused (a later check throws), and the
 * limit in force must keep its buckets when the config after that one brings it back.
 */
export class RateLimits {
  private readonly built = new Map<'inbound' | 'gateway', Built[]>();

  constructor(private readonly now?: () => number) {}

  readonly policy: PolicyFactory = (config: NodeConfig, listener) => {
    const limit = listener === 'inbound' ? config.inbound.policy.rateLimit : config.gateway?.policy.rateLimit;
    if (limit === undefined) return undefined;
    const key = canonicalJson(limit);
    const recent = this.built.get(listener) ?? [];
    const known = recent.find((b) => b.key === key);
    const check = known?.check ?? new RateLimitCheck(limit, this.now);
    this.built.set(listener, [{ key, check }, ...recent.filter((b) => b !== known)].slice(0, 2));
    return check;
  };
}
