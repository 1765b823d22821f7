/** What every listener handler shares: the config in force, counters, and where requests end. */
import type { RecordSink } from '../exchange/record';
import type { RateLimitedLog } from '../log';
import type { SidecarStats } from '../stats';
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
  /** Events a peer can cause at will (failed policy checks, refused connections), logged rate-limited. */
  events: RateLimitedLog;
}
