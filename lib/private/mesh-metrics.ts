import type * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  EMF_CLUSTER_DIMENSION_SETS,
  EMF_DIMENSION_SETS,
  EMF_NAMESPACE,
  EMF_NODE_DIMENSIONS,
  EMF_VIRTUAL_SERVICE_DIMENSIONS,
} from '../../proxy/contracts/metrics-catalog';

/**
 * The CloudWatch side of the metric catalog: metrics, SEARCH expressions and Metrics Insights
 * queries over the EMF namespace, dimension sets and names the sidecar writes. The dashboard and
 * the alarms build every reference through these, so no metric or dimension name is spelled here.
 */

/** A dimension set of the catalog (the names, in the catalog's order). */
export type DimensionSet = readonly string[];

/** The dimension names, taken from the catalog's sets. */
export const [MESH, VIRTUAL_SERVICE] = EMF_VIRTUAL_SERVICE_DIMENSIONS;
export const NODE = EMF_NODE_DIMENSIONS[1];
export const TARGET_CLUSTER = EMF_CLUSTER_DIMENSION_SETS[1][2];
export const ROUTE = EMF_DIMENSION_SETS[2][2];

export const SERVICE_SET: DimensionSet = EMF_VIRTUAL_SERVICE_DIMENSIONS;
export const NODE_SET: DimensionSet = EMF_NODE_DIMENSIONS;
export const NODE_CLUSTER_SET: DimensionSet = EMF_CLUSTER_DIMENSION_SETS[1];
export const NODE_ROUTE_SET: DimensionSet = EMF_DIMENSION_SETS[2];

/** Seconds in a day: CertificateExpiry is in seconds, the dashboard and alarms speak days. */
export const SECONDS_PER_DAY = 86_400;

/** A metric of the Weft namespace under `set`, with a value for each of the set's dimensions. */
export function emfMetric(metricName: string, set: DimensionSet, values: Readonly<Record<string, string>>, statistic: string, period: cdk.Duration, label?: string): cloudwatch.Metric {
  const dimensionsMap: Record<string, string> = {};
  for (const name of set) {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for dimension ${name} of ${metricName}`);
    dimensionsMap[name] = value;
  }
  return new cloudwatch.Metric({ namespace: EMF_NAMESPACE, metricName, dimensionsMap, statistic, period, label });
}

/**
 * `SEARCH('{Weft,<set>} <filters> MetricName="<name>"', '<stat>', <seconds>)`: every series of the
 * set matching the filters. The braces list the full set, so CloudWatch matches only series with
 * exactly those dimensions (a node's total is not mixed into its per-cluster series).
 */
export function searchExpression(metricName: string, set: DimensionSet, filters: Readonly<Record<string, string>>, statistic: string, period: cdk.Duration): string {
  const where = Object.entries(filters).map(([k, v]) => `${k}="${v}"`);
  const query = [`{${[EMF_NAMESPACE, ...set].join(',')}}`, ...where, `MetricName="${metricName}"`].join(' ');
  return `SEARCH('${query}', '${statistic}', ${period.toSeconds()})`;
}

/** Options of a Metrics Insights query. */
export interface InsightsQueryOptions {
  /** Aggregate per series (Metrics Insights offers AVG, COUNT, MAX, MIN, SUM; no percentiles). */
  readonly fn: 'SUM' | 'MIN' | 'MAX' | 'AVG';
  readonly metricName: string;
  readonly set: DimensionSet;
  /** Equality filters. */
  readonly where: Readonly<Record<string, string>>;
  /** A dimension to group by (one series per value); none for one aggregate series. */
  readonly groupBy?: string;
  /** Keep the `limit` series with the highest (`DESC`) or lowest (`ASC`) aggregate. */
  readonly order?: { readonly direction: 'ASC' | 'DESC'; readonly limit: number };
}

/**
 * A Metrics Insights query. `SCHEMA(...)` names the full dimension set, so only series with exactly
 * those dimensions are read. A query processes at most 10,000 series and returns at most 500
 * (CloudWatch Metrics Insights quotas), whatever the mesh's size.
 */
export function insightsQuery(o: InsightsQueryOptions): string {
  const where = Object.entries(o.where).map(([k, v]) => `${k} = '${v}'`);
  return [
    `SELECT ${o.fn}(${o.metricName})`,
    `FROM SCHEMA("${EMF_NAMESPACE}", ${o.set.join(', ')})`,
    where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    o.groupBy ? `GROUP BY ${o.groupBy}` : '',
    o.order ? `ORDER BY ${o.fn}() ${o.order.direction} LIMIT ${o.order.limit}` : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
}
