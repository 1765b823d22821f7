/** Reading the controllers' environment with coded errors instead of `undefined` surprises. */
import { WeftLambdaError } from './errors';

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new WeftLambdaError('WEFT_ERR_ENV_INVALID', `${name} is not set`);
  return value.trim();
}

export function optionalEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A positive integer from the environment, or `fallback` when unset. */
export function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = optionalEnv(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new WeftLambdaError('WEFT_ERR_ENV_INVALID', `${name} must be a positive integer, got: ${JSON.stringify(raw)}`);
  return Number(raw);
}
