import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARD_NODE_PLACEHOLDER, DASHBOARD_SERVICE_PLACEHOLDER } from '../../lib';
import { dashboardSvg, referenceDashboardBody } from '../../scripts/dashboard-svg';

describe('docs/dashboard.svg', () => {
  const body = referenceDashboardBody();

  test('is what the synthesized dashboard body draws (regenerate with `npm run docs:dashboard`)', () => {
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'dashboard.svg'), 'utf8')).toBe(dashboardSvg(body));
  });

  test('draws every widget of the body, with its title', () => {
    const svg = dashboardSvg(body);
    const widgets = (JSON.parse(body) as { widgets: { properties: { title?: string } }[] }).widgets;
    expect(svg.match(/<rect x=/g)).toHaveLength(widgets.length);
    for (const w of widgets) {
      if (w.properties.title) expect(svg).toContain(w.properties.title.replace(DASHBOARD_SERVICE_PLACEHOLDER, '\u2039virtual service\u203a').replace(DASHBOARD_NODE_PLACEHOLDER, '\u2039node\u203a'));
    }
  });
});
