/**
 * Retrying AWS calls. The SDK clients are created with `maxAttempts: 1` so that this is the only
 * retry layer: one policy, visible in tests, and no multiplied attempts when both layers retry.
 */
import { WeftLambdaError } from './errors';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);
const TRANSIENT = new Set([
  'InternalServiceError',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/** Whether an error is AWS asking us to slow down. */
export function isThrottling(err: unknown): boolean {
  const e = err as AwsLikeError | undefined;
  if (!e) return false;
  return THROTTLING.has(e.name ?? '') || e.$metadata?.httpStatusCode === 429 || e.$retryable?.throttling === true;
}

/** Whether an error is worth retrying: throttling, a 5xx, or a dropped connection. */
export function isRetryable(err: unknown): boolean {
  if (isThrottling(err)) return true;
  const e = err as AwsLikeError | undefined;
  if (!e) return false;
  if (TRANSIENT.has(e.name ?? '') || TRANSIENT.has(e.code ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

export interface RetryOptions {
  /** Total attempts including the first. Default 6. */
  maxAttempts?: number;
  /** First backoff; doubles each attempt, full jitter. Default 100 ms. */
  baseDelayMs?: number;
  /** Cap on one backoff. Default 5,000 ms. */
  maxDelayMs?: number;
  /** Injected so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told about every retry, e.g. to count them in the run summary. */
  onRetry?: (info: { operation: string; attempt: number; delayMs: number; error: unknown }) => void;
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call`, retrying throttling and transient errors with capped exponential backoff and full
 * jitter (so many Lambda containers retrying at once spread out). Other errors pass through.
 */
export async function withRetry<T>(operation: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 6;
  const base = options.baseDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 5_000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (attempt >= maxAttempts) {
        throw new WeftLambdaError('WEFT_ERR_AWS_RETRIES_EXHAUSTED', `${operation} failed ${attempt} times: ${(err as Error).name ?? 'Error'}`, { cause: err });
      }
      const delayMs = Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1)));
      options.onRetry?.({ operation, attempt, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}

/** Runs `work` over `items` with at most `limit` in flight, keeping results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
    }
  });
  await Promise.all(lanes);
  return results;
}
