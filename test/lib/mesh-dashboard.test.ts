import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_MAX_DIMENSION_VALUES, EMF_CLUSTER_METRICS, EMF_METRICS, EMF_NAMESPACE, EMF_NODE_METRICS } from '../../proxy/contracts/metrics-catalog';
import { DASHBOARD_NODE_PLACEHOLDER, DASHBOARD_SERVICE_PLACEHOLDER, Mesh, MeshDashboard, VirtualService, VirtualServiceProvider } from '../../lib';
import { notInCatalog, referencesInDashboard, type DashboardBody } from './cloudwatch-references';
import { cfnText, newStack } from './synth-helpers';

/** The synthesized dashboard body, parsed (the Region reference becomes a literal Region). */
function dashboardBody(stack: cdk.Stack): { text: string; body: DashboardBody } {
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const text = cfnText(dashboards[0].Properties.DashboardBody, () => 'eu-west-1');
  return { text, body: JSON.parse(text) as DashboardBody };
}

function meshWithServices(count: number): { stack: cdk.Stack; mesh: Mesh } {
  const stack = newStack();
  const mesh = new Mesh(stack, 'Mesh', { meshName: 'shop' });
  for (let i = 0; i < count; i++) {
    new VirtualService(stack, `Service${i}`, { virtualServiceName: `service-${i}.shop.local`, virtualServiceProvider: VirtualServiceProvider.none(mesh) });
  }
  return { stack, mesh };
}

/**
 * The most series a widget's row can draw: its own metric, a Metrics Insights query's LIMIT, or
 * a SEARCH over a per-node dimension (capped by the sidecar at 100 values plus `other`).
 */
function seriesOf(row: unknown[]): number {
  const options = row[row.length - 1] as { expression?: string; visible?: boolean } | undefined;
  const expression = typeof options === 'object' ? options?.expression : undefined;
  if (expression === undefined) return 1;
  const limit = /LIMIT (\d+)/.exec(expression);
  if (limit) return Number(limit[1]);
  if (expression.startsWith('SEARCH(')) return DEFAULT_MAX_DIMENSION_VALUES + 1;
  return 1;
}

describe('MeshDashboard', () => {
  test('the body parses, uses the variables and references only what the catalog says the sidecar writes', () => {
    // GIVEN
    const { stack, mesh } = meshWithServices(1);
    // WHEN
    mesh.addDashboard('Dashboard', { dashboardName: 'shop-mesh' });
    // THEN
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'shop-mesh' });
    const { text, body } = dashboardBody(stack);
    expect(body.periodOverride).toBe('inherit');
    expect(body.variables?.map((v) => [v.id, v.type, v.pattern])).toEqual([
      ['virtualService', 'pattern', DASHBOARD_SERVICE_PLACEHOLDER],
      ['node', 'pattern', DASHBOARD_NODE_PLACEHOLDER],
    ]);
    expect(text).toContain(DASHBOARD_SERVICE_PLACEHOLDER);
    expect(text).toContain(DASHBOARD_NODE_PLACEHOLDER);
    const refs = referencesInDashboard(body);
    expect(notInCatalog(refs, EMF_NAMESPACE)).toEqual([]);
    // Plain metrics, SEARCH expressions and Metrics Insights queries were all read: four dimension sets.
    expect(new Set(refs.map((r) => r.dimensions.join(','))).size).toBe(4);
    // What the issue asks the dashboard to show is among what it reads.
    const names = new Set(refs.map((r) => r.metricName));
    for (const m of [EMF_METRICS.requests, EMF_METRICS.responses4xx, EMF_METRICS.responses5xx, EMF_METRICS.requestDuration, EMF_CLUSTER_METRICS.retries, EMF_CLUSTER_METRICS.overflows, EMF_CLUSTER_METRICS.ejections, EMF_NODE_METRICS.tlsHandshakeFailures, EMF_NODE_METRICS.policyDenials, EMF_NODE_METRICS.certificateExpiry]) {
      expect(names).toContain(m.name);
    }
    // p50/p90/p99 of the distribution, per virtual service and per node.
    const latencyStats = body.widgets.flatMap((w) => (w.properties.metrics ?? []).filter((row) => row[1] === EMF_METRICS.requestDuration.name).map((row) => (row[row.length - 1] as { stat: string }).stat));
    expect(latencyStats).toEqual(['p50', 'p90', 'p99', 'p50', 'p90', 'p99']);
  });

  test('1,000 virtual services synthesize the same body as one, within CloudWatch dashboard limits', () => {
    // GIVEN
    const small = meshWithServices(1);
    const large = meshWithServices(1_000);
    // WHEN
    small.mesh.addDashboard('Dashboard');
    large.mesh.addDashboard('Dashboard');
    // THEN
    const { text, body } = dashboardBody(large.stack);
    expect(text).toBe(dashboardBody(small.stack).text);
    // CloudWatch quotas: 500 widgets per dashboard, 500 metrics per widget, 2,500 per dashboard.
    expect(body.widgets.length).toBeLessThanOrEqual(500);
    const perWidget = body.widgets.map((w) => (w.properties.metrics ?? []).reduce((n, row) => n + seriesOf(row), 0));
    expect(Math.max(...perWidget)).toBeLessThanOrEqual(500);
    expect(perWidget.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2_500);
    // CloudFormation's template size limit (1 MB from S3) bounds the body; it stays far below.
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
    // The grid is 24 columns wide.
    for (const w of body.widgets) expect(w.x + w.width).toBeLessThanOrEqual(24);
  });

  test('topCount and period shape the queries', () => {
    // GIVEN
    const { stack, mesh } = meshWithServices(0);
    // WHEN
    new MeshDashboard(stack, 'Dashboard', { mesh, topCount: 25, period: cdk.Duration.minutes(5) });
    // THEN
    const { text } = dashboardBody(stack);
    expect(text).toContain('ORDER BY SUM() DESC LIMIT 25');
    expect(text).toContain('q/300');
    expect(text).not.toContain('LIMIT 10');
  });

  test.each([
    [{ topCount: 0 }, /topCount must be an integer from 1 to 500.*got: 0/],
    [{ topCount: 501 }, /topCount must be an integer from 1 to 500.*got: 501/],
    [{ period: cdk.Duration.seconds(30) }, /period must be a whole number of minutes.*got: 30 s/],
  ])('refuses %p', (options, error) => {
    const { mesh } = meshWithServices(0);
    expect(() => mesh.addDashboard('Dashboard', options)).toThrow(error);
  });

  test('AwsSolutions checks: the dashboard adds no finding', () => {
    // GIVEN
    const plain = meshWithServices(1);
    const withDashboard = meshWithServices(1);
    // WHEN
    withDashboard.mesh.addDashboard('Dashboard');
    // THEN
    const findings = (stack: cdk.Stack) => new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName).sort();
    expect(findings(withDashboard.stack)).toEqual(findings(plain.stack));
  });
});
