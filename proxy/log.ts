/**
 * Structured logs: one JSON object per line, stable keys (`time`, `level`, `event`). Used for
 * lifecycle and config events only; the request path never logs (access logs are a later issue
 * and will be buffered).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
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
