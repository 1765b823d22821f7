/**
 * The `emf` sink through a real sidecar: a known mix, documents captured from the writer, each
 * checked against the structure of CloudWatch's Embedded Metric Format specification, and their
 * counts summed per dimension set equal the mix.
 */
import { EMF_DIMENSION_SETS, EMF_METRICS, EMF_NAMESPACE, EMF_VIRTUAL_SERVICE_DIMENSIONS } from '../../../proxy/contracts/metrics-catalog';
import { DURATION_REPRESENTATIVES } from '../../../proxy/telemetry/emf';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../harness';

let app: Upstream;
let sidecar: Running;
const lines: string[] = [];

beforeAll(async () => {
  app = await startUpstream('app');
  sidecar = await startWith(
    nodeBody({
      name: 'client',
      services: [{ name: 'svc.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('svc/ok', { 'app:8080': 1 }, { path: { prefix: '/ok' } })] }] }],
      clusters: [staticCluster('app:8080', [app.port])],
    }),
    { metrics: 'emf', emfIntervalMs: 50 },
    { emfWriter: (chunk, done) => {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      setImmediate(() => done(null));
    } },
  );
});

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
});

type Doc = Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };

/** The specification's structural rules: what CloudWatch Logs needs to extract the metrics. */
function expectValidEmf(doc: Doc): void {
  expect(Number.isInteger(doc._aws.Timestamp)).toBe(true);
  expect(doc._aws.CloudWatchMetrics.length).toBeGreaterThan(0);
  for (const directive of doc._aws.CloudWatchMetrics) {
    expect(directive.Namespace).toMatch(/^[^:].{0,254}$/);
    expect(directive.Dimensions.length).toBeGreaterThan(0);
    for (const set of directive.Dimensions) {
      expect(set.length).toBeLessThanOrEqual(30);
      for (const d of set) expect(typeof doc[d]).toBe('string'); // every dimension is a string member of the root
    }
    expect(directive.Metrics.length).toBeLessThanOrEqual(100);
    for (const m of directive.Metrics) {
      expect(['Count', 'Milliseconds', 'Bytes', 'Seconds', 'None']).toContain(m.Unit);
      const v = doc[m.Name] as number | { Values: number[]; Counts: number[] };
      if (typeof v === 'number') continue;
      expect(v.Values.length).toBe(v.Counts.length);
      expect(v.Values.length).toBeLessThanOrEqual(100);
    }
  }
}

test('a known mix: every document is valid EMF and the counts per dimension set equal the mix', async () => {
  const egress = sidecar.handle.ports.egress!;
  for (let i = 0; i < 4; i++) expect((await get(egress, `/ok/${i}`, { host: 'svc.demo.local:8080' })).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await get(egress, '/nowhere', { host: 'svc.demo.local:8080' })).status).toBe(404);
  const docs = (): Doc[] => lines.map((l) => JSON.parse(l) as Doc);
  const sum = (set: readonly string[], metric: string, where: (d: Doc) => boolean = () => true): number =>
    docs()
      .filter((d) => d._aws.CloudWatchMetrics.some((c) => c.Dimensions[0].join() === set.join() && c.Metrics.some((m) => m.Name === metric)) && where(d))
      .reduce((n, d) => n + (d[metric] as number), 0);
  // One flush's documents may reach the writer in more than one chunk (the buffer writes one at a
  // time), so wait for the last dimension set too, not only the first.
  await eventually(
    () => sum(EMF_DIMENSION_SETS[0], EMF_METRICS.requests.name) === 6 && sum(EMF_VIRTUAL_SERVICE_DIMENSIONS, EMF_METRICS.requests.name) === 6,
    'six requests in the node and virtual-service EMF documents',
  );

  for (const d of docs()) {
    expectValidEmf(d);
    expect(d._aws.CloudWatchMetrics[0].Namespace).toBe(EMF_NAMESPACE);
    expect(d.Mesh).toBe(sidecar.handle.store.current!.config.mesh.name);
    if (d.VirtualService === undefined) expect(d.Node).toBe('client');
  }
  expect(sum(EMF_DIMENSION_SETS[0], EMF_METRICS.responses4xx.name)).toBe(2);
  expect(sum(EMF_DIMENSION_SETS[1], EMF_METRICS.requests.name, (d) => d.TargetCluster === 'app:8080')).toBe(4);
  expect(sum(EMF_DIMENSION_SETS[2], EMF_METRICS.requests.name, (d) => d.Route === 'svc/ok')).toBe(4);
  // Every request named svc.demo.local, the 404s too (the virtual service resolved; no route matched).
  expect(sum(EMF_VIRTUAL_SERVICE_DIMENSIONS, EMF_METRICS.requests.name, (d) => d.VirtualService === 'svc.demo.local')).toBe(6);
  expect(sum(EMF_VIRTUAL_SERVICE_DIMENSIONS, EMF_METRICS.responses4xx.name)).toBe(2);
  const durationCounts = docs()
    .filter((d) => d._aws.CloudWatchMetrics[0].Dimensions[0].join() === EMF_DIMENSION_SETS[0].join() && d[EMF_METRICS.requestDuration.name] !== undefined)
    .flatMap((d) => (d[EMF_METRICS.requestDuration.name] as { Counts: number[] }).Counts);
  expect(durationCounts.reduce((a, b) => a + b, 0)).toBe(6);
  for (const d of docs().filter((x) => x[EMF_METRICS.requestDuration.name] !== undefined)) for (const v of (d[EMF_METRICS.requestDuration.name] as { Values: number[] }).Values) expect(DURATION_REPRESENTATIVES).toContain(v);

});
