/**
 * Construct-time checks for simple ranges, so that a bad value fails where it is written rather
 * than at synth. Messages state the rule and end with `got: <value>`, as aws-appmesh's do.
 */
import * as cdk from 'aws-cdk-lib';

/** Throws unless `value` is an integer in [min, max]. Tokens are left to synth-time validation. */
export function checkIntRange(what: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || cdk.Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${what} must be an integer between ${min} and ${max}, got: ${value}`);
  }
}

/** Throws unless `value` is in [min, max] (fractions allowed). */
export function checkRange(what: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || cdk.Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${what} must be between ${min} and ${max}, got: ${value}`);
  }
}

export function checkPort(what: string, port: number | undefined): void {
  checkIntRange(what, port, 1, 65535);
}

/** Throws unless the duration lies in [min, max]. */
export function checkDuration(what: string, value: cdk.Duration | undefined, min: cdk.Duration, max?: cdk.Duration): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms < min.toMilliseconds() || (max !== undefined && ms > max.toMilliseconds())) {
    const range = max === undefined ? `at least ${min.toHumanString()}` : `between ${min.toHumanString()} and ${max.toHumanString()}`;
    throw new Error(`${what} must be ${range}, got: ${value.toHumanString()}`);
  }
}

export function checkCount(what: string, items: readonly unknown[] | undefined, min: number, max: number): void {
  if (items === undefined) return;
  if (items.length < min || items.length > max) {
    throw new Error(`${what} must have between ${min} and ${max} entries, got: ${items.length}`);
  }
}

/** Names end up in S3 keys, secret names and SPIFFE ids, so they must be known at synth. */
export function checkLiteralName(what: string, name: string): void {
  if (cdk.Token.isUnresolved(name)) {
    throw new Error(`${what} must be a literal string: Weft uses it in S3 keys, secret names and SPIFFE ids at synth, got: ${name}`);
  }
  if (name.length < 1 || name.length > 255 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new Error(`${what} must be 1-255 letters, digits, '.', '_' or '-' and start with a letter or digit, got: ${name}`);
  }
}

export function checkStartsWithSlash(what: string, value: string | undefined): void {
  if (value === undefined || cdk.Token.isUnresolved(value)) return;
  if (!value.startsWith('/')) throw new Error(`${what} must start with '/', got: ${value}`);
}
