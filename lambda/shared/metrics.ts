/**
 * The controllers' own metrics as Embedded Metric Format members of a log line: the logger's
 * JSON line carries `_aws` and one member per metric, so CloudWatch Logs extracts them from the
 * Lambda's log group with no API call and no IAM permission. Names from the metric catalog.
 */
import { EMF_CONTROLLER_DIMENSIONS, EMF_CONTROLLER_METRICS, EMF_NAMESPACE, type ControllerMetricKey } from '../../proxy/contracts/metrics-catalog';
import type { Logger } from './log';

/** The fields of one EMF document: the run's counts under Mesh + Controller; metrics not given are 0. */
export function controllerMetricFields(mesh: string, controller: string, counts: Partial<Record<ControllerMetricKey, number>>, timestamp = Date.now()): Record<string, unknown> {
  const keys = Object.keys(counts) as ControllerMetricKey[];
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [[...EMF_CONTROLLER_DIMENSIONS]], Metrics: keys.map((k) => ({ Name: EMF_CONTROLLER_METRICS[k].name, Unit: EMF_CONTROLLER_METRICS[k].unit })) }],
    },
    Mesh: mesh,
    Controller: controller,
    ...Object.fromEntries(keys.map((k) => [EMF_CONTROLLER_METRICS[k].name, counts[k] ?? 0])),
  };
}

/** Writes the run's counts as one `metrics` log line (an EMF document). */
export function logControllerMetrics(logger: Logger, mesh: string, controller: string, counts: Partial<Record<ControllerMetricKey, number>>): void {
  logger.info('metrics', controllerMetricFields(mesh, controller, counts));
}
