/**
 * Draws the layout of the mesh dashboard as SVG from the body `MeshDashboard` synthesizes: the
 * widget grid with each widget's title and what it queries. `npm run docs:dashboard` writes
 * docs/dashboard.svg; test/scripts/dashboard-svg.test.ts fails when that file is stale.
 */
import * as cdk from 'aws-cdk-lib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARD_NODE_PLACEHOLDER, DASHBOARD_SERVICE_PLACEHOLDER, Mesh } from '../lib';

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: { readonly title?: string; readonly markdown?: string; readonly metrics?: unknown[][] };
}

interface Body {
  readonly widgets: readonly Widget[];
  readonly variables?: readonly { readonly label?: string; readonly id: string }[];
}

/** Pixels per grid column and per grid row (CloudWatch's grid is 24 columns wide). */
const COLUMN = 50;
const ROW = 28;
const COLUMNS = 24;
const TOP = 44;

/** The body of the dashboard of a mesh named `shop`, as CloudWatch receives it (Region filled in). */
export function referenceDashboardBody(): string {
  const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new cdk.Stack(app, 'Docs', { env: { account: '111111111111', region: 'us-east-1' } });
  const mesh = new Mesh(stack, 'Mesh', { meshName: 'shop' });
  const { dashboard } = mesh.addDashboard('Dashboard');
  const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Record<string, { Properties: { DashboardBody: unknown } }> };
  return joined(template.Resources[stack.getLogicalId(dashboard.node.defaultChild as cdk.CfnElement)].Properties.DashboardBody, 'us-east-1');
}

/** A CloudFormation `Fn::Join` string with every reference in it (only the Region here) as `region`. */
function joined(value: unknown, region: string): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => joined(part, region)).join(join[0]);
  return region;
}

/** The SVG of a dashboard body's layout. */
export function dashboardSvg(bodyText: string): string {
  const body = JSON.parse(bodyText) as Body;
  const height = TOP + Math.max(...body.widgets.map((w) => w.y + w.height)) * ROW + 8;
  const width = COLUMNS * COLUMN + 16;
  const variables = (body.variables ?? []).map((v) => `${v.label ?? v.id} \u25be`).join('    ');
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#f4f5f7"/>`,
    `<text x="8" y="26" font-size="14" fill="#16191f">Variables: ${escape(variables)}</text>`,
    ...body.widgets.map(widgetSvg),
    '</svg>',
    '',
  ];
  return lines.join('\n');
}

function widgetSvg(w: Widget): string {
  const x = 8 + w.x * COLUMN;
  const y = TOP + w.y * ROW;
  const box = `<rect x="${x + 2}" y="${y + 2}" width="${w.width * COLUMN - 4}" height="${w.height * ROW - 4}" rx="3" fill="${w.type === 'text' ? '#e9ebed' : '#ffffff'}" stroke="#aab7b8"/>`;
  const text = (dy: number, size: number, content: string, color: string) => `<text x="${x + 10}" y="${y + dy}" font-size="${size}" fill="${color}">${escape(readable(content))}</text>`;
  if (w.type === 'text') return [box, text(22, 13, (w.properties.markdown ?? '').split('\n')[0].replace(/^#+ /, ''), '#16191f')].join('\n');
  return [box, text(20, 12, w.properties.title ?? '', '#16191f'), text(38, 10, sourceOf(w), '#687078')].join('\n');
}

/** What the widget reads: Metrics Insights, SEARCH or metrics of the chosen service or node. */
function sourceOf(w: Widget): string {
  const expressions = (w.properties.metrics ?? []).map((row) => (row[row.length - 1] as { expression?: string } | undefined)?.expression ?? '');
  if (expressions.some((e) => e.startsWith('SELECT'))) return 'Metrics Insights query';
  if (expressions.some((e) => e.startsWith('SEARCH('))) return 'SEARCH';
  return expressions.some((e) => e !== '') ? 'metrics and metric math' : 'metrics';
}

function readable(text: string): string {
  return text.split(DASHBOARD_SERVICE_PLACEHOLDER).join('\u2039virtual service\u203a').split(DASHBOARD_NODE_PLACEHOLDER).join('\u2039node\u203a');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

if (require.main === module) {
  const out = join(__dirname, '..', 'docs', 'dashboard.svg');
  writeFileSync(out, dashboardSvg(referenceDashboardBody()));
  console.log(`wrote ${out}`);
}
