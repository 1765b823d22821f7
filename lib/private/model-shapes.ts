/** Small conversions from construct props to the mesh model's JSON shapes. */
import type * as cdk from 'aws-cdk-lib';
import type { Duration as ModelDuration } from '../model/schema';

/** App Mesh's `{ unit, value }` duration; milliseconds keep sub-second values exact. */
export function renderDuration(d: cdk.Duration): ModelDuration;
export function renderDuration(d: cdk.Duration | undefined): ModelDuration | undefined;
export function renderDuration(d: cdk.Duration | undefined): ModelDuration | undefined {
  return d === undefined ? undefined : { unit: 'ms', value: d.toMilliseconds() };
}

/** Drops keys whose value is undefined, at every level, so rendered specs compare cleanly. */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => compact(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = compact(v);
    }
    return out as T;
  }
  return value;
}
