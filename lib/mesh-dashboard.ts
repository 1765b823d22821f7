import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { EMF_CLUSTER_METRICS, EMF_METRICS, EMF_NAMESPACE, EMF_NODE_METRICS } from '../proxy/contracts/metrics-catalog';
import type { IMesh } from './mesh';
import {
  emfMetric,
  insightsQuery,
  MESH,
  NODE,
  NODE_CLUSTER_SET,
  NODE_ROUTE_SET,
  NODE_SET,
  SECONDS_PER_DAY,
  searchExpression,
  SERVICE_SET,
  TARGET_CLUSTER,
  ROUTE,
  VIRTUAL_SERVICE,
  type DimensionSet,
} from './private/mesh-metrics';

/** Properties of a MeshDashboard, apart from the mesh. */
export interface MeshDashboardOptions {
  /**
   * The dashboard name.
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
  /**
   * The period every graph uses. The sidecar writes EMF every 60 s, so a shorter period shows
   * gaps. Rates per second divide by it, so the dashboard keeps its own period (`periodOverride`
   * is `inherit`).
   * @default Duration.minutes(1)
   */
  readonly period?: cdk.Duration;
  /**
   * How many virtual services or nodes the mesh-wide graphs show: the busiest (or, for
   * certificates, the closest to expiry). At most 500, what one Metrics Insights query returns.
   * @default 10
   */
  readonly topCount?: number;
  /**
   * The time range the dashboard opens with, as an ISO 8601 duration before now.
   * @default '-PT3H'
   */
  readonly start?: string;
}

/** Properties of a MeshDashboard. */
export interface MeshDashboardProps extends MeshDashboardOptions {
  /** The mesh whose sidecars' metrics the dashboard shows. */
  readonly mesh: IMesh;
}

/**
 * Placeholders the dashboard variables replace (pattern variables rewrite every occurrence in the
 * body, SEARCH strings and titles included). Upper case with underscores: no Weft resource name
 * reads like this by accident, since names are usually lower case.
 */
export const DASHBOARD_SERVICE_PLACEHOLDER = 'WEFT_SELECTED_VIRTUAL_SERVICE';
export const DASHBOARD_NODE_PLACEHOLDER = 'WEFT_SELECTED_NODE';

const WIDTH = 8;
const HEIGHT = 6;
/** CloudWatch's dashboard grid is 24 columns wide. */
const GRID_WIDTH = 24;

/**
 * A CloudWatch dashboard of a Weft mesh, built from the metric catalog
 * (`proxy/contracts/metrics-catalog.ts`): mesh-wide top lists by virtual service and by node
 * (Metrics Insights), then one virtual service and one node in detail, chosen with the dashboard's
 * `VirtualService` and `Node` variables.
 *
 * The body does not grow with the mesh: every widget is a fixed query (Metrics Insights, SEARCH or
 * one series per chosen service or node), so 1,000 services synthesize the same body as one.
 */
export class MeshDashboard extends Construct {
  /** The CloudWatch dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MeshDashboardProps) {
    super(scope, id);
    const period = props.period ?? cdk.Duration.minutes(1);
    const topCount = props.topCount ?? 10;
    if (!Number.isInteger(topCount) || topCount < 1 || topCount > 500) {
      throw new Error(`topCount must be an integer from 1 to 500 (a Metrics Insights query returns at most 500 series), got: ${topCount}`);
    }
    if (period.toSeconds() < 60 || period.toSeconds() % 60 !== 0) {
      throw new Error(`period must be a whole number of minutes (the sidecar writes EMF every 60 s), got: ${period.toSeconds()} s`);
    }
    const widgets = new WidgetFactory(props.mesh.meshName, period, topCount);
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', {
      dashboardName: props.dashboardName,
      start: props.start ?? '-PT3H',
      periodOverride: cloudwatch.PeriodOverride.INHERIT,
      variables: [
        selectVariable('virtualService', 'Virtual service', DASHBOARD_SERVICE_PLACEHOLDER, props.mesh.meshName, SERVICE_SET, VIRTUAL_SERVICE),
        selectVariable('node', 'Node', DASHBOARD_NODE_PLACEHOLDER, props.mesh.meshName, NODE_SET, NODE),
      ],
    });
    for (const row of widgets.rows()) this.dashboard.addWidgets(...row);
  }
}

/** A pattern variable whose choices are the values of `dimension` the mesh's sidecars wrote. */
function selectVariable(id: string, label: string, placeholder: string, meshName: string, set: DimensionSet, dimension: string): cloudwatch.DashboardVariable {
  const search = `{${[EMF_NAMESPACE, ...set].join(',')}} ${MESH}="${meshName}" MetricName="${EMF_METRICS.requests.name}"`;
  return new cloudwatch.DashboardVariable({
    id,
    label,
    type: cloudwatch.VariableType.PATTERN,
    inputType: cloudwatch.VariableInputType.SELECT,
    value: placeholder,
    values: cloudwatch.Values.fromSearch(search, dimension),
    defaultValue: cloudwatch.DefaultValue.FIRST,
  });
}

/** The dashboard's widgets, row by row. */
class WidgetFactory {
  private readonly seconds: number;
  private readonly service: Record<string, string>;
  private readonly node: Record<string, string>;

  constructor(
    private readonly meshName: string,
    private readonly period: cdk.Duration,
    private readonly topCount: number,
  ) {
    this.seconds = period.toSeconds();
    this.service = { [MESH]: meshName, [VIRTUAL_SERVICE]: DASHBOARD_SERVICE_PLACEHOLDER };
    this.node = { [MESH]: meshName, [NODE]: DASHBOARD_NODE_PLACEHOLDER };
  }

  rows(): cloudwatch.IWidget[][] {
    return [
      [this.heading(`# Weft mesh ${this.meshName}\nMesh-wide: the ${this.topCount} busiest virtual services and nodes. Below: the virtual service and node chosen with the variables above.`)],
      [
        this.topByService('Requests/s by virtual service', EMF_METRICS.requests.name),
        this.topByService('4xx/s by virtual service', EMF_METRICS.responses4xx.name),
        this.topByService('5xx/s by virtual service', EMF_METRICS.responses5xx.name),
      ],
      [
        this.topByNode('Requests/s by node', EMF_METRICS.requests.name, NODE_SET),
        this.topByNode('Retries/s by node', EMF_CLUSTER_METRICS.retries.name, NODE_SET),
        this.topByNode('Overflows/s by node', EMF_CLUSTER_METRICS.overflows.name, NODE_SET),
      ],
      [
        this.topByNode('Ejections/s by node', EMF_CLUSTER_METRICS.ejections.name, NODE_SET),
        this.topByNode('TLS handshake failures/s by node', EMF_NODE_METRICS.tlsHandshakeFailures.name, NODE_SET),
        this.topByNode('Policy denials/s by node', EMF_NODE_METRICS.policyDenials.name, NODE_SET),
      ],
      [this.certificateDaysLeftByNode()],
      [this.heading(`## Virtual service ${DASHBOARD_SERVICE_PLACEHOLDER}`)],
      this.trafficOf(`Virtual service ${DASHBOARD_SERVICE_PLACEHOLDER}`, SERVICE_SET, this.service),
      [this.heading(`## Node ${DASHBOARD_NODE_PLACEHOLDER}`)],
      this.trafficOf(`Node ${DASHBOARD_NODE_PLACEHOLDER}`, NODE_SET, this.node),
      [
        this.searchGraph(`Requests/s by route of ${DASHBOARD_NODE_PLACEHOLDER}`, EMF_METRICS.requests.name, NODE_ROUTE_SET, ROUTE),
        this.searchGraph(`Requests/s by target cluster of ${DASHBOARD_NODE_PLACEHOLDER}`, EMF_METRICS.requests.name, NODE_CLUSTER_SET, TARGET_CLUSTER),
        this.searchGraph(`Retries/s by target cluster of ${DASHBOARD_NODE_PLACEHOLDER}`, EMF_CLUSTER_METRICS.retries.name, NODE_CLUSTER_SET, TARGET_CLUSTER),
      ],
      [this.clusterEventsOfNode(), this.securityOfNode(), this.certificateDaysLeftOfNode()],
    ];
  }

  private heading(markdown: string): cloudwatch.IWidget {
    return new cloudwatch.TextWidget({ markdown, width: GRID_WIDTH, height: 2 });
  }

  private graph(title: string, left: cloudwatch.IMetric[], leftLabel: string): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, period: this.period, leftYAxis: { label: leftLabel, showUnits: false, min: 0 } });
  }

  /** Sums per period over a Metrics Insights query, as per-second rates. */
  private perSecond(query: string, label: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({ expression: `q/${this.seconds}`, usingMetrics: { q: new cloudwatch.MathExpression({ expression: query, period: this.period }) }, label, period: this.period });
  }

  private topByService(title: string, metricName: string): cloudwatch.IWidget {
    const query = insightsQuery({ fn: 'SUM', metricName, set: SERVICE_SET, where: { [MESH]: this.meshName }, groupBy: VIRTUAL_SERVICE, order: { direction: 'DESC', limit: this.topCount } });
    return this.graph(`${title} (top ${this.topCount})`, [this.perSecond(query, '')], 'per second');
  }

  private topByNode(title: string, metricName: string, set: DimensionSet): cloudwatch.IWidget {
    const query = insightsQuery({ fn: 'SUM', metricName, set, where: { [MESH]: this.meshName }, groupBy: NODE, order: { direction: 'DESC', limit: this.topCount } });
    return this.graph(`${title} (top ${this.topCount})`, [this.perSecond(query, '')], 'per second');
  }

  private certificateDaysLeftByNode(): cloudwatch.IWidget {
    const query = insightsQuery({ fn: 'MIN', metricName: EMF_NODE_METRICS.certificateExpiry.name, set: NODE_SET, where: { [MESH]: this.meshName }, groupBy: NODE, order: { direction: 'ASC', limit: this.topCount } });
    const days = new cloudwatch.MathExpression({ expression: `q/${SECONDS_PER_DAY}`, usingMetrics: { q: new cloudwatch.MathExpression({ expression: query, period: this.period }) }, label: '', period: this.period });
    return this.graph(`Certificate days left (the ${this.topCount} nodes closest to expiry)`, [days], 'days');
  }

  /** Requests/s, 4xx and 5xx as a share of requests, p50/p90/p99 latency of one service or node. */
  private trafficOf(what: string, set: DimensionSet, values: Record<string, string>): cloudwatch.IWidget[] {
    const sum = (name: string) => emfMetric(name, set, values, cloudwatch.Stats.SUM, this.period);
    const requests = sum(EMF_METRICS.requests.name);
    const rate = new cloudwatch.MathExpression({ expression: `r/${this.seconds}`, usingMetrics: { r: requests }, label: 'requests/s', period: this.period });
    const share = (name: string, id: string, label: string) =>
      new cloudwatch.MathExpression({ expression: `100*FILL(${id},0)/r`, usingMetrics: { [id]: sum(name), r: requests }, label, period: this.period });
    const latency = ['p50', 'p90', 'p99'].map((p) => emfMetric(EMF_METRICS.requestDuration.name, set, values, p, this.period, p));
    return [
      this.graph(`${what}: requests/s`, [rate], 'per second'),
      this.graph(`${what}: 4xx and 5xx (% of requests)`, [share(EMF_METRICS.responses4xx.name, 'e4', '4xx %'), share(EMF_METRICS.responses5xx.name, 'e5', '5xx %')], '%'),
      this.graph(`${what}: latency`, latency, 'ms'),
    ];
  }

  /** One series per value of `by` for the chosen node (at most 100 values plus `other` per node). */
  private searchGraph(title: string, metricName: string, set: DimensionSet, by: string): cloudwatch.IWidget {
    const search = searchExpression(metricName, set, { [MESH]: this.meshName, [NODE]: DASHBOARD_NODE_PLACEHOLDER }, cloudwatch.Stats.SUM, this.period);
    const rate = new cloudwatch.MathExpression({ expression: `s/${this.seconds}`, usingMetrics: { s: new cloudwatch.MathExpression({ expression: search, period: this.period }) }, label: `\${PROP('Dim.${by}')}`, period: this.period });
    return this.graph(title, [rate], 'per second');
  }

  private nodeSums(title: string, metrics: readonly { readonly name: string }[]): cloudwatch.IWidget {
    return this.graph(title, metrics.map((m) => emfMetric(m.name, NODE_SET, this.node, cloudwatch.Stats.SUM, this.period, m.name)), 'per period');
  }

  private clusterEventsOfNode(): cloudwatch.IWidget {
    return this.nodeSums(`Cluster events of ${DASHBOARD_NODE_PLACEHOLDER}`, Object.values(EMF_CLUSTER_METRICS));
  }

  private securityOfNode(): cloudwatch.IWidget {
    const { certificateExpiry: _expiry, ...counters } = EMF_NODE_METRICS;
    return this.nodeSums(`Security and discovery failures of ${DASHBOARD_NODE_PLACEHOLDER}`, Object.values(counters));
  }

  private certificateDaysLeftOfNode(): cloudwatch.IWidget {
    const expiry = emfMetric(EMF_NODE_METRICS.certificateExpiry.name, NODE_SET, this.node, cloudwatch.Stats.MINIMUM, this.period);
    const days = new cloudwatch.MathExpression({ expression: `c/${SECONDS_PER_DAY}`, usingMetrics: { c: expiry }, label: 'days left', period: this.period });
    return this.graph(`Certificate days left of ${DASHBOARD_NODE_PLACEHOLDER}`, [days], 'days');
  }
}
