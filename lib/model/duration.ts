import type { Duration } from './schema';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

/** Milliseconds of an App Mesh duration (`{unit, value}`) or a Weft duration string (`"2s"`). */
export function durationMs(d: Duration): number {
  if (typeof d === 'string') {
    const m = /^(\d+)(ms|s|m)$/.exec(d);
    if (!m) throw new Error(`not a duration: ${d}`);
    return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  return d.value * UNIT_MS[d.unit];
}
