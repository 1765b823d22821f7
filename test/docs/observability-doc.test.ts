// docs/observability.md lists every metric of the catalog, so the doc cannot fall behind it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMF_DIMENSION_SETS, EMF_METRICS, ISTIO_REQUEST_LABELS, ISTIO_TCP_LABELS, METRICS } from '../../proxy/contracts/metrics-catalog';

const doc = readFileSync(join(__dirname, '../../docs/observability.md'), 'utf8');

test.each(Object.values(METRICS).map((m) => [m.name]))('Prometheus metric %s is documented', (name) => {
  expect(doc).toContain(`\`${name}\``);
});

test.each(Object.values(EMF_METRICS).map((m) => [m.name, m.unit]))('EMF metric %s is documented with its unit', (name, unit) => {
  expect(doc).toMatch(new RegExp(`\\| \`${name}\` \\| ${unit} \\|`));
});

test('every label and dimension is documented', () => {
  for (const label of new Set([...ISTIO_REQUEST_LABELS, ...ISTIO_TCP_LABELS])) expect(doc).toContain(`\`${label}\``);
  for (const set of EMF_DIMENSION_SETS) expect(doc).toContain(set.map((d) => `\`${d}\``).join(', '));
});
