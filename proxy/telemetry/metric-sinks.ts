/** The `--metrics` setting: which sinks read the sidecar's metrics. */
import { checkMetricSinks, type MetricSink } from '../contracts/settings';
import { WeftError } from '../errors';

/**
 * Parses `prometheus,emf`, `none` and the like; throws a coded error naming a bad sink. The
 * settings parser already refused bad values; this guards settings built in code (tests, `weft up`).
 */
export function metricSinks(setting: string): ReadonlySet<MetricSink> {
  const problem = checkMetricSinks(setting);
  if (problem !== undefined) throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `metrics: ${problem}`);
  const names = setting.split(',').map((s) => s.trim());
  return new Set(names.filter((n): n is MetricSink => n !== 'none'));
}
