/** What every listener handler shares: the config in force, counters, and where requests end. */
import type { RecordSink } from '../exchange/record';
import type { RateLimitedLog } from '../log';
import type { SidecarStats } from '../stats';
import type { Tracer } from '../telemetry/tracer';
import type { ConfigStore } from './config-store';

export interface ProxyContext {
  store: ConfigStore;
  stats: SidecarStats;
  trustedHops: number;
  maxBodyBytes: number;
  random: () => number;
  /** True once shutdown began: responses close their connections. */
  draining: () => boolean;
  /** Every request's and TCP connection's completion record. */
  complete: RecordSink;
  /** Trace context of forwarded requests (a no-op while the config has no tracing). */
  tracer: Tracer;
  /** Events a peer can cause at will (failed policy checks, refused connections), logged rate-limited. */
  events: RateLimitedLog;
}
