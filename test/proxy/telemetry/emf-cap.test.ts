/** EMF without a sidecar: deltas per interval, the dimension cap, and no document for an idle interval. */
import { CompletionRecord } from '../../../proxy/exchange/record';
import { EmfEmitter } from '../../../proxy/telemetry/emf';
import { LineBuffer } from '../../../proxy/telemetry/line-buffer';
import { MeshMetrics } from '../../../proxy/telemetry/mesh-metrics';

function record(route: string, status = 200): CompletionRecord {
  const r = new CompletionRecord('http', 'egress', '127.0.0.1', { principal: undefined } as never);
  r.status = status;
  r.route = route;
  r.cluster = 'app';
  r.durationMs = 7;
  return r;
}

function setup(maxDimensionValues: number) {
  const lines: string[] = [];
  const metrics = new MeshMetrics({ node: 'n', ownPrincipal: () => undefined });
  const buffer = new LineBuffer((chunk, done) => {
    lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
    done(null);
  });
  const emf = new EmfEmitter({ metrics, buffer, mesh: () => 'm', node: 'n', maxDimensionValues });
  const docs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { metrics, emf, lines, docs };
}

test('each interval writes what changed since the last; an idle interval writes nothing', () => {
  const { metrics, emf, docs } = setup(10);
  metrics.record(record('a'));
  metrics.record(record('a'));
  expect(emf.flush(1_000)).toBe(3);
  expect(emf.flush(2_000)).toBe(0);
  metrics.record(record('a', 503));
  expect(emf.flush(3_000)).toBe(3);
  const node = docs().filter((d) => d.Route === undefined && d.TargetCluster === undefined);
  expect(node.map((d) => [d.Requests, d.Responses5xx])).toEqual([[2, 0], [1, 1]]);
  expect(node[0].RequestDuration).toEqual({ Values: [7.5], Counts: [2] });
  expect((node[1]._aws as { Timestamp: number }).Timestamp).toBe(3_000);
});

test('past the cap, further dimension values are summed under `other`, counted', () => {
  const { metrics, emf, docs } = setup(2);
  for (const route of ['a', 'b', 'c', 'd']) metrics.record(record(route));
  emf.flush(1_000);
  const routes = docs().filter((d) => d.Route !== undefined).map((d) => [d.Route, d.Requests]);
  expect(routes).toEqual([['a', 1], ['b', 1], ['other', 2]]);
  expect(emf.capped).toBe(2);
});
