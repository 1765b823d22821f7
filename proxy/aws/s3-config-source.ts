/**
 * The node config from S3 (`s3://bucket/key`, the `config` setting in AWS). Polled every
 * `pollMs` (±20%) with a conditional GET: `If-None-Match` carries the last ETag, so an unchanged
 * object costs a 304 and no body. A failed poll is reported to `onError` and retried with
 * exponential backoff; the config store keeps the last good config meanwhile (static stability).
 * The source delivers text only: parsing and validation are the store's.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { parseS3Url } from '../contracts/mesh-layout';
import { SETTINGS } from '../contracts/settings';
import type { ConfigSource } from '../sources/config-source';
import { WeftError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { awsErrorName, awsHttpStatus, describeAwsError } from './aws-errors';
import { Backoff, jittered, type BackoffOptions, type Random } from './backoff';
import { createS3Client, s3Sdk, type AwsClientOptions } from './clients';

/** Same code as the file source's (proxy/sources/config-source.ts), so the store and docs see one code. */
export const CONFIG_UNREADABLE = 'WEFT_ERR_CONFIG_UNREADABLE';
export const CONFIG_LOCATION_INVALID = 'WEFT_ERR_CONFIG_LOCATION_INVALID';

export interface S3ConfigSourceOptions {
  client: S3Client;
  bucket: string;
  key: string;
  /** Poll interval (the `configPollMs` setting). */
  pollMs?: number;
  /** Failure backoff; default 1 s doubling to 60 s. */
  backoff?: Omit<BackoffOptions, 'random'>;
  logger?: Logger;
  random?: Random;
  /** close() also destroys the client (set when the source created it). */
  ownClient?: boolean;
}

/** Counters for the admin endpoint. */
export interface S3ConfigSourceStats {
  calls: number;
  notModified: number;
  changes: number;
  errors: number;
  consecutiveFailures: number;
  etag: string | undefined;
  lastSuccessAt: string | undefined;
  lastError: { code: string; message: string; at: string } | undefined;
}

type Fetched = { notModified: true } | { notModified: false; text: string; etag: string | undefined };

export class S3ConfigSource implements ConfigSource {
  readonly location: string;
  private readonly pollMs: number;
  private readonly backoff: Backoff;
  private readonly logger: Logger;
  private readonly random: Random;
  private etag: string | undefined;
  private lastText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { calls: 0, notModified: 0, changes: 0, errors: 0 };
  private lastSuccessAt: string | undefined;
  private lastError: S3ConfigSourceStats['lastError'];

  constructor(private readonly opts: S3ConfigSourceOptions) {
    this.location = `s3://${opts.bucket}/${opts.key}`;
    this.pollMs = opts.pollMs ?? SETTINGS.configPollMs.default ?? 60_000;
    this.random = opts.random ?? Math.random;
    this.backoff = new Backoff({ ...opts.backoff, random: this.random });
    this.logger = opts.logger ?? silentLogger;
  }

  /** Fetches the object unconditionally (at start); rejects with WEFT_ERR_CONFIG_UNREADABLE. */
  async read(): Promise<string> {
    try {
      const got = await this.fetch(false);
      if (got.notModified) throw new Error('S3 answered 304 Not Modified to an unconditional GET');
      this.etag = got.etag;
      this.lastText = got.text;
      this.succeeded();
      return got.text;
    } catch (err) {
      throw this.failure(err);
    }
  }

  watch(onChange: (text: string) => void, onError: (err: Error) => void, onRecovered?: () => void): void {
    if (this.closed || this.timer) return;
    const poll = async (): Promise<void> => {
      this.timer = undefined;
      if (this.closed) return;
      let delay: number;
      try {
        const got = await this.fetch(true);
        if (this.closed) return;
        const recovered = this.backoff.failures > 0;
        this.succeeded();
        if (recovered) onRecovered?.();
        if (got.notModified) {
          this.counters.notModified++;
        } else {
          this.etag = got.etag;
          // Without an ETag (some S3-compatible stores), equal text still means "no change".
          if (got.text !== this.lastText) {
            this.lastText = got.text;
            this.counters.changes++;
            onChange(got.text);
          }
        }
        delay = jittered(this.pollMs, this.random);
      } catch (err) {
        if (this.closed) return;
        const coded = this.failure(err);
        delay = this.backoff.next();
        this.logger.log('warn', 'config_poll_failed', { source: this.location, code: this.lastError?.code, message: coded.message, retryInMs: delay });
        onError(coded);
      }
      this.schedule(poll, delay);
    };
    this.schedule(poll, jittered(this.pollMs, this.random));
  }

  close(): void {
    if (!this.closed && this.opts.ownClient) this.opts.client.destroy();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  stats(): S3ConfigSourceStats {
    return { ...this.counters, consecutiveFailures: this.backoff.failures, etag: this.etag, lastSuccessAt: this.lastSuccessAt, lastError: this.lastError };
  }

  private schedule(poll: () => Promise<void>, delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void poll(), delayMs);
    this.timer.unref();
  }

  private async fetch(conditional: boolean): Promise<Fetched> {
    this.counters.calls++;
    const ifNoneMatch = conditional ? this.etag : undefined;
    const { GetObjectCommand } = s3Sdk();
    try {
      const res = await this.opts.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.opts.key, ...(ifNoneMatch !== undefined ? { IfNoneMatch: ifNoneMatch } : {}) }),
      );
      if (!res.Body) throw new Error('GetObject returned no body');
      return { notModified: false, text: await res.Body.transformToString('utf-8'), etag: res.ETag };
    } catch (err) {
      // The SDK surfaces 304 as an error named NotModified.
      if (ifNoneMatch !== undefined && (awsHttpStatus(err) === 304 || awsErrorName(err) === 'NotModified')) return { notModified: true };
      throw err;
    }
  }

  private succeeded(): void {
    if (this.backoff.failures > 0) this.logger.log('info', 'config_poll_recovered', { source: this.location, failures: this.backoff.failures });
    this.backoff.reset();
    this.lastSuccessAt = new Date().toISOString();
  }

  private failure(err: unknown): WeftError {
    this.counters.errors++;
    const code = awsErrorName(err);
    const message = `cannot read node config ${this.location}: ${describeAwsError(err)}`;
    this.lastError = { code, message, at: new Date().toISOString() };
    return new WeftError(CONFIG_UNREADABLE, message);
  }
}

/**
 * The S3 source for a `config` setting of the form `s3://bucket/key`, with its own client
 * (honouring AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). Throws WEFT_ERR_CONFIG_LOCATION_INVALID for
 * anything else.
 */
export function createS3ConfigSource(
  location: string,
  opts: Omit<S3ConfigSourceOptions, 'client' | 'bucket' | 'key'> & AwsClientOptions = {},
): S3ConfigSource {
  const parsed = parseS3Url(location);
  if (!parsed) {
    throw new WeftError(CONFIG_LOCATION_INVALID, `config location ${JSON.stringify(location)}: expected s3://<bucket>/<key> with a valid bucket name`);
  }
  const { region, env, credentials, ...rest } = opts;
  return new S3ConfigSource({ ...rest, ...parsed, client: createS3Client({ region, env, credentials }), ownClient: true });
}
