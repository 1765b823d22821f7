/**
 * The keys a JWT rule verifies tokens with: an inline JWKS from the config (checked and parsed when
 * the config is read, see proxy/contracts/jwt-rules.ts), or a `jwksUri` the sidecar fetches.
 *
 * A fetched JWKS is fetched on first use (the first token to verify waits for it), kept, and
 * refreshed in the background once it is older than {@link JWKS_REFRESH_MS} (Istio's 20 min; after
 * a failed refresh, again a cooldown later); a
 * token whose `kid` the keys do not hold triggers one refresh at most every
 * {@link JWKS_KID_REFRESH_COOLDOWN_MS}, so a key rotated in at the issuer is picked up at once and
 * a stream of unknown kids cannot turn into a stream of fetches. Once keys are held, no request
 * fetches: requests find the keys in memory. A fetch that fails (unreachable, timed out, not 200,
 * larger than {@link JWKS_MAX_BYTES}, not a JWKS of public keys) keeps the keys held, so tokens
 * signed with them still verify, and a token they cannot verify is refused: an unreachable JWKS
 * never lets a token through.
 *
 * No timers: the periodic refresh is started by the first request after the keys are due, so a
 * source dropped by a config reload is garbage with nothing to stop. A reload that keeps a
 * `jwksUri` keeps its source, keys included ({@link JwksRegistry}).
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput, type CryptoKey } from 'jose';
import { request } from 'undici';
import { parseJwks } from '../contracts/jwt-rules';
import type { JwtRule } from '../contracts/node-config';
import type { Logger } from '../log';

/** Age after which held keys are refreshed (Istio's default JWKS refresh interval). */
export const JWKS_REFRESH_MS = 20 * 60_000;
/** Refreshes on an unknown `kid` are at most this often (jose's cooldown default). */
export const JWKS_KID_REFRESH_COOLDOWN_MS = 30_000;
/** After a failed fetch with no keys held, the next token waits this long before another fetch. */
export const JWKS_RETRY_MS = 1_000;
/** A JWKS fetch (connect, headers and body) must finish within this (Istio's jwksFetch timeout). */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
/** A JWKS larger than this is refused (issuers publish a few keys: a few KiB). */
export const JWKS_MAX_BYTES = 256 * 1024;

/** Resolves the key for a token's protected header, as jose's `jwtVerify` asks for it. */
export interface KeySource {
  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
  /** Changes whenever the keys do, so results verified with older keys can be dropped. */
  readonly generation: number;
}

/** Keys written in the config. */
export class InlineJwks implements KeySource {
  readonly generation = 0;
  private readonly local: ReturnType<typeof createLocalJWKSet>;

  constructor(jwks: JSONWebKeySet) {
    this.local = createLocalJWKSet(jwks);
  }

  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    return this.local(header, token);
  }
}

export interface RemoteJwksOptions {
  refreshMs?: number;
  kidRefreshCooldownMs?: number;
  retryMs?: number;
  timeoutMs?: number;
  maxBytes?: number;
  now?: () => number;
}

/** Keys fetched from a `jwksUri`. */
export class RemoteJwks implements KeySource {
  generation = 0;
  /** Fetch attempts and failures, for tests and `/config_dump`-style views. */
  fetches = 0;
  failures = 0;
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = -Infinity;
  private failedAt = -Infinity;
  private kidRefreshAt = -Infinity;
  private inFlight: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly cooldownMs: number;
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(
    readonly uri: string,
    private readonly logger: Logger,
    opts: RemoteJwksOptions = {},
  ) {
    this.refreshMs = opts.refreshMs ?? JWKS_REFRESH_MS;
    this.cooldownMs = opts.kidRefreshCooldownMs ?? JWKS_KID_REFRESH_COOLDOWN_MS;
    this.retryMs = opts.retryMs ?? JWKS_RETRY_MS;
    this.timeoutMs = opts.timeoutMs ?? JWKS_FETCH_TIMEOUT_MS;
    this.maxBytes = opts.maxBytes ?? JWKS_MAX_BYTES;
    this.now = opts.now ?? Date.now;
  }

  async resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    let local = this.local;
    if (local === undefined) {
      if (this.now() - this.failedAt < this.retryMs) throw new Error(`JWKS ${this.uri} not fetched yet (last fetch failed)`);
      await this.refresh();
      local = this.local;
      if (local === undefined) throw new Error(`JWKS ${this.uri} could not be fetched`);
    } else if (this.now() - this.fetchedAt >= this.refreshMs && this.now() - this.failedAt >= this.cooldownMs) {
      // After a failed refresh, the held keys serve and the next try waits a cooldown: no fetch per request.
      void this.refresh();
    }
    try {
      return await local(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || this.now() - this.kidRefreshAt < this.cooldownMs) throw err;
      this.kidRefreshAt = this.now();
      await this.refresh();
      if (this.local === local) throw err;
      return this.local!(header, token);
    }
  }

  /** One fetch at a time; concurrent callers share it. Never rejects: a failure keeps the keys held. */
  refresh(): Promise<void> {
    this.inFlight ??= this.fetchOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetchOnce(): Promise<void> {
    this.fetches++;
    try {
      const jwks = await this.download();
      this.local = createLocalJWKSet(jwks);
      this.generation++;
      this.fetchedAt = this.now();
    } catch (err) {
      this.failures++;
      this.failedAt = this.now();
      // Fetches are throttled (first use, cooldown, refresh interval), so this logs rarely.
      this.logger.log('warn', 'jwks_fetch_failed', { uri: this.uri, keysHeld: this.local !== undefined, message: (err as Error).message });
    }
  }

  private async download(): Promise<JSONWebKeySet> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const res = await request(this.uri, { method: 'GET', headers: { accept: 'application/json' }, signal, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // Leaving the loop early (too large) closes the body.
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > this.maxBytes) throw new Error(`larger than ${this.maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    const parsed = parseJwks(Buffer.concat(chunks).toString('utf8'));
    if (parsed.jwks === undefined) throw new Error(`not a usable JWKS: ${parsed.problems.join('; ')}`);
    return parsed.jwks as unknown as JSONWebKeySet;
  }
}

/**
 * The key sources of one config's JWT rules. Built with each config; a `jwksUri` the previous
 * config also named keeps its source (and its keys), so a reload neither refetches nor, with the
 * issuer unreachable, loses the keys.
 */
export class JwksRegistry {
  private readonly remote = new Map<string, RemoteJwks>();
  /** The previous config's sources (not the registry itself: reloads must not chain). */
  private readonly inherited: ReadonlyMap<string, RemoteJwks>;

  constructor(
    previous: JwksRegistry | undefined,
    private readonly logger: Logger,
  ) {
    this.inherited = previous?.remote ?? new Map();
  }

  /** The source for `rule` (checked by the contract: exactly one of jwksUri and a valid jwks). */
  sourceFor(rule: JwtRule): KeySource {
    if (rule.jwks !== undefined) {
      const parsed = parseJwks(rule.jwks);
      if (parsed.jwks === undefined) throw new Error(`jwks: ${parsed.problems.join('; ')}`);
      return new InlineJwks(parsed.jwks as unknown as JSONWebKeySet);
    }
    const uri = rule.jwksUri!;
    let source = this.remote.get(uri) ?? this.inherited.get(uri);
    source ??= new RemoteJwks(uri, this.logger);
    this.remote.set(uri, source);
    return source;
  }

  /** The fetched sources in use, keyed by URI. */
  get sources(): ReadonlyMap<string, RemoteJwks> {
    return this.remote;
  }
}
