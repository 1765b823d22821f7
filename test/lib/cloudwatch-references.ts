/**
 * Reads back which metrics a synthesized dashboard or alarm references: every metric array,
 * SEARCH expression, Metrics Insights query and variable search, walked out of the template, so the
 * tests check what CloudWatch will read rather than restating names.
 */
import {
  EMF_CLUSTER_DIMENSION_SETS,
  EMF_CLUSTER_METRICS,
  EMF_DIMENSION_SETS,
  EMF_METRICS,
  EMF_NODE_DIMENSIONS,
  EMF_NODE_METRICS,
  EMF_VIRTUAL_SERVICE_DIMENSIONS,
} from '../../proxy/contracts/metrics-catalog';

export interface MetricReference {
  readonly namespace: string;
  readonly metricName: string;
  /** Dimension names, sorted. */
  readonly dimensions: readonly string[];
  /** Where it was found, for failure messages. */
  readonly source: string;
}

const key = (dims: readonly string[]) => [...dims].sort().join(',');

/** `metric name -> dimension sets (sorted, joined)` the catalog says the sidecar writes. */
export function writtenByCatalog(): Map<string, Set<string>> {
  const written = new Map<string, Set<string>>();
  const add = (metrics: Record<string, { name: string }>, sets: readonly (readonly string[])[]) => {
    for (const m of Object.values(metrics)) written.set(m.name, new Set(sets.map(key)));
  };
  add(EMF_METRICS, [...EMF_DIMENSION_SETS, EMF_VIRTUAL_SERVICE_DIMENSIONS]);
  add(EMF_CLUSTER_METRICS, EMF_CLUSTER_DIMENSION_SETS);
  add(EMF_NODE_METRICS, [EMF_NODE_DIMENSIONS]);
  return written;
}

/** References in a text: SEARCH expressions, variable searches and Metrics Insights queries. */
export function referencesInText(text: string, source: string): MetricReference[] {
  const found: MetricReference[] = [];
  for (const m of text.matchAll(/\{([^{}]+)\}[^']*?MetricName=\\?"([^"\\]+)\\?"/g)) {
    const [namespace, ...dimensions] = m[1].split(',');
    found.push({ namespace, metricName: m[2], dimensions: [...dimensions].sort(), source });
  }
  for (const m of text.matchAll(/SELECT \w+\((\w+)\) FROM SCHEMA\(\\?"([^"\\]+)\\?", ([\w, ]+)\)/g)) {
    found.push({ namespace: m[2], metricName: m[1], dimensions: m[3].split(', ').sort(), source });
  }
  return found;
}

/** Every reference in a parsed dashboard body. */
export function referencesInDashboard(body: DashboardBody): MetricReference[] {
  const found: MetricReference[] = [];
  for (const v of body.variables ?? []) found.push(...referencesInText(JSON.stringify(v), `variable ${v.id}`));
  for (const w of body.widgets) {
    const title = String(w.properties.title ?? w.type);
    for (const row of (w.properties.metrics ?? []) as unknown[][]) {
      const options = row[row.length - 1];
      const plain = typeof options === 'object' && options !== null ? row.slice(0, -1) : row;
      if (plain.length >= 2) {
        const dims = plain.slice(2).filter((_, i) => i % 2 === 0) as string[];
        found.push({ namespace: String(plain[0]), metricName: String(plain[1]), dimensions: [...dims].sort(), source: title });
      }
      const expression = (options as { expression?: string } | undefined)?.expression;
      if (expression) found.push(...referencesInText(expression, title));
    }
  }
  return found;
}

/** Every reference in an AWS::CloudWatch::Alarm's properties. */
export function referencesInAlarm(properties: AlarmProperties, source: string): MetricReference[] {
  const found: MetricReference[] = [];
  if (properties.MetricName) {
    found.push({ namespace: properties.Namespace ?? '', metricName: properties.MetricName, dimensions: (properties.Dimensions ?? []).map((d) => d.Name).sort(), source });
  }
  for (const q of properties.Metrics ?? []) {
    const m = q.MetricStat?.Metric;
    if (m) found.push({ namespace: m.Namespace, metricName: m.MetricName, dimensions: (m.Dimensions ?? []).map((d) => d.Name).sort(), source });
    if (q.Expression) found.push(...referencesInText(q.Expression, source));
  }
  return found;
}

/** The references the catalog does not say are written, as readable lines. */
export function notInCatalog(refs: readonly MetricReference[], namespace: string): string[] {
  const written = writtenByCatalog();
  return refs
    .filter((r) => r.namespace !== namespace || !written.get(r.metricName)?.has(key(r.dimensions)))
    .map((r) => `${r.source}: ${r.namespace}/${r.metricName} {${r.dimensions.join(',')}}`);
}

export interface DashboardWidget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title?: string; markdown?: string; metrics?: unknown[][]; [k: string]: unknown };
}
export interface DashboardBody {
  widgets: DashboardWidget[];
  variables?: { id: string; [k: string]: unknown }[];
  [k: string]: unknown;
}
interface Dimension {
  Name: string;
}
export interface AlarmProperties {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Dimension[];
  Metrics?: { Expression?: string; MetricStat?: { Period?: number; Metric: { Namespace: string; MetricName: string; Dimensions?: Dimension[] } } }[];
  [k: string]: unknown;
}
