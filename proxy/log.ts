/**
 * Structured logs: one JSON object per line, stable keys (`time`, `level`, `event`). Used for
 * lifecycle and config events only; the request path never logs. What each request did goes to
 * its completion record (proxy/exchange/record.ts), the one place access logs and metrics read.
 */
import type { LogLevel } from './contracts/settings';

export type { LogLevel } from './contracts/settings';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines to `write` (stdout by default), dropping entries below `level`. */
export function createLogger(level: string, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = RANK[level as LogLevel] ?? RANK.info;
  return {
    log(lvl, event, fields) {
      if (RANK[lvl] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields })}\n`);
    },
  };
}

/** Logs nothing; the default for embedded use and tests that do not look at logs. */
export const silentLogger: Logger = { log() {} };

/**
 * Logs an event at most once per key per interval, with how many happened since the last line:
 * for events a peer can cause at will (refused connections, internal errors), whose counters
 * carry the full count.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  log(level: LogLevel, event: string, key: string, fields: () => Record<string, unknown>): void {
    const now = Date.now();
    const entry = this.last.get(key);
    if (entry !== undefined && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    this.logger.log(level, event, { ...fields(), suppressed: entry?.suppressed ?? 0 });
    // Bounded: keys are codes and error names, but a bug could make them vary.
    if (this.last.size >= 256) this.last.clear();
    this.last.set(key, { at: now, suppressed: 0 });
  }
}
