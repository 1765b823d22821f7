/**
 * The controllers' error table. Every failure a controller reports carries one of these codes, so
 * logs, alarms and tests match on the code and never on message text.
 */
export const LAMBDA_ERRORS = {
  /** A required environment variable is missing or malformed. */
  WEFT_ERR_ENV_INVALID: 'controller environment invalid',
  /** The incoming event is not one this controller handles. */
  WEFT_ERR_EVENT_INVALID: 'event invalid',
  /** The task registry object is missing from the config bucket. */
  WEFT_ERR_TASK_REGISTRY_MISSING: 'task registry missing',
  /** An AWS call kept failing with throttling or transient errors after every retry. */
  WEFT_ERR_AWS_RETRIES_EXHAUSTED: 'AWS call retries exhausted',
  /** An AWS call failed with an error that retrying cannot fix. */
  WEFT_ERR_AWS_CALL_FAILED: 'AWS call failed',
  /** Private CA did not finish issuing a certificate within the wait budget. */
  WEFT_ERR_CERT_ISSUE_TIMEOUT: 'certificate issuance timed out',
  /** A certificate signing request or issued certificate is not what was asked for. */
  WEFT_ERR_CERT_INVALID: 'certificate invalid',
  /** The custom resource properties of config publish are invalid. */
  WEFT_ERR_PUBLISH_INVALID: 'config publish properties invalid',
  /** One or more nodes failed in a controller run (details in the summary log line). */
  WEFT_ERR_PARTIAL_FAILURE: 'some items failed',
} as const;

export type LambdaErrorCode = keyof typeof LAMBDA_ERRORS;

/** An error with a stable `WEFT_ERR_*` code; `cause` keeps the underlying AWS error. */
export class WeftLambdaError extends Error {
  readonly code: LambdaErrorCode;

  constructor(code: LambdaErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${LAMBDA_ERRORS[code]}: ${detail}`, options);
    this.name = 'WeftLambdaError';
    this.code = code;
  }
}

/** The code of any error Weft raises (`WeftLambdaError`, `ContractError`), or the AWS error name. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('WEFT_ERR_')) return e.code;
    if (typeof e.name === 'string') return e.name;
  }
  return 'Error';
}
