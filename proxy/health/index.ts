/**
 * The health sources a cluster's definition asks for, attached to its runtime when it is built:
 * outlier detection fed by attempt outcomes, and active health checks. A config reload that keeps
 * the runtime (same definition) keeps them and their state.
 */
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import { HealthChecker, type HealthCheckerOptions } from './health-checker';
import { OutlierDetector } from './outlier-detector';

export { HealthChecker, type HealthCheckerOptions } from './health-checker';
export { OutlierDetector } from './outlier-detector';

export function monitorCluster(cluster: ClusterRuntime, options: HealthCheckerOptions): void {
  const { outlierDetection, healthCheck } = cluster.def;
  if (outlierDetection) cluster.addMonitor(new OutlierDetector(cluster, outlierDetection));
  if (healthCheck) cluster.addMonitor(new HealthChecker(cluster, healthCheck, options));
}
