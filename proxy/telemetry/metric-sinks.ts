/** The `--metrics` setting: which sinks read the sidecar's metrics. */
import { WeftError } from '../errors';

export type MetricSink = 'prometheus' | 'emf';
const SINKS: readonly string[] = ['prometheus', 'emf'];

/** Parses `prometheus,emf`, `none` and the like; throws a coded error naming a bad sink. */
export function metricSinks(setting: string): ReadonlySet<MetricSink> {
  const names = setting.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return new Set();
  for (const n of names) {
    // Named in the issue and the docs' plans; refused rather than accepted and silently not applied.
    if (n === 'cloudwatch') throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `metrics: 'cloudwatch' (PutMetricData) is not built yet; use 'emf' (CloudWatch through the log driver) or 'prometheus', got: '${setting}'`);
    if (!SINKS.includes(n)) throw new WeftError('WEFT_ERR_SETTINGS_INVALID', `metrics must be 'none' or a comma-separated list of ${SINKS.join(', ')}, got: '${setting}'`);
  }
  return new Set(names as MetricSink[]);
}
