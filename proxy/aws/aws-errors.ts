/** What the AWS pollers need to know about an SDK failure: its name, and whether it is throttling. */

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/** The SDK's error name (`RequestLimitExceeded`, `NoSuchKey`, ...) or the Node error code (`ECONNREFUSED`). */
export function awsErrorName(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  if (e.code && /^E[A-Z]+$/.test(e.code)) return e.code;
  return e.name && e.name !== 'Error' ? e.name : (e.code ?? 'Error');
}

/** The HTTP status of the failed call, when there was an answer. */
export function awsHttpStatus(err: unknown): number | undefined {
  return ((err ?? {}) as SdkErrorShape).$metadata?.httpStatusCode;
}

/** True when AWS asked us to slow down (throttling error names, HTTP 429, or the SDK's throttling mark). */
export function isThrottle(err: unknown): boolean {
  const e = (err ?? {}) as SdkErrorShape;
  return THROTTLE_NAMES.has(e.name ?? '') || THROTTLE_NAMES.has(e.code ?? '') || awsHttpStatus(err) === 429 || e.$retryable?.throttling === true;
}

/** `name: message` for logs and coded errors. */
export function describeAwsError(err: unknown): string {
  const message = ((err ?? {}) as SdkErrorShape).message ?? String(err);
  const name = awsErrorName(err);
  return message && !message.startsWith(name) ? `${name}: ${message}` : message || name;
}
