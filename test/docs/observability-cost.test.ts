// The cost table of docs/observability.md counts series from the catalog: if a metric or a
// dimension set is added to the catalog, the table's numbers must be redone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMF_CLUSTER_DIMENSION_SETS, EMF_CLUSTER_METRICS, EMF_DIMENSION_SETS, EMF_METRICS, EMF_NODE_METRICS } from '../../proxy/contracts/metrics-catalog';

const doc = readFileSync(join(__dirname, '../../docs/observability.md'), 'utf8');

/** Value combinations of a dimension set for one virtual node: 1, or one per route or cluster. */
function combinations(set: readonly string[], perExtraDimension: number): number {
  return set.length === 2 ? 1 : perExtraDimension;
}

test('series per virtual node in the cost table follow the catalog (R = C = 5, one virtual service per node)', () => {
  const routesOrClusters = 5;
  const request = Object.keys(EMF_METRICS).length * EMF_DIMENSION_SETS.reduce((n, set) => n + combinations(set, routesOrClusters), 0);
  const perService = Object.keys(EMF_METRICS).length;
  const cluster = Object.keys(EMF_CLUSTER_METRICS).length * EMF_CLUSTER_DIMENSION_SETS.reduce((n, set) => n + combinations(set, routesOrClusters), 0);
  const node = Object.keys(EMF_NODE_METRICS).length;
  const series = request + perService + cluster + node;
  expect(doc).toContain(`That is 6 × 11 + 6 + 30 + 5 = ${series} series per virtual node`);
  for (const [tasks, nodes] of [['100', 10], ['1,000', 100], ['10,000', 1000]] as const) {
    expect(doc).toContain(`| ${tasks} | ${nodes.toLocaleString('en-US')} | ${(series * nodes).toLocaleString('en-US')} |`);
  }
});
