/**
 * What the dashboard and the alarms read, the sidecar writes: every metric name and dimension set
 * referenced by a synthesized `MeshDashboard` and `MeshAlarms` appears in the EMF documents of a
 * running sidecar (with a mesh certificate, retries and refusals, so that every kind of document is
 * written), under the namespace they read. The catalog test (mesh-dashboard.test.ts) checks the
 * references against the catalog; this one checks them against what is really emitted.
 */
import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Mesh, VirtualService, VirtualServiceProvider } from '../../lib';
import { EMF_NAMESPACE } from '../../proxy/contracts/metrics-catalog';
import { agent, eventually, freePort, get, httpRoute, nodeBody, startUpstream, startWith, staticCluster, type Running, type Upstream } from '../proxy/harness';
import { TestPki } from '../proxy/tls/test-pki';
import { referencesInAlarm, referencesInDashboard, type AlarmProperties, type DashboardBody, type MetricReference } from './cloudwatch-references';
import { cfnText, newStack } from './synth-helpers';

type Doc = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };

let pki: TestPki;
let app: Upstream;
let sidecar: Running;
const lines: string[] = [];

beforeAll(async () => {
  pki = new TestPki();
  const ca = pki.ca('mesh-ca');
  const certs = pki.leaf('client', 'spiffe://weft.test/ns/demo/sa/client', ca);
  app = await startUpstream('app');
  const dead = await freePort();
  const retryOnConnect = { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 0, tcpRetryEvents: ['connection-error'] } };
  sidecar = await startWith(
    nodeBody({
      name: 'client',
      services: [
        {
          name: 'svc.demo.local',
          listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('svc/ok', { 'app:8080': 1 }, { path: { prefix: '/ok' } }), httpRoute('svc/dead', { 'dead:8080': 1 }, { path: { prefix: '/dead' } }, { priority: 1, ...retryOnConnect })] }],
        },
      ],
      clusters: [staticCluster('app:8080', [app.port]), staticCluster('dead:8080', [dead, dead])],
    }),
    { metrics: 'emf', emfIntervalMs: 50, certSource: `file:${certs}` },
    {
      emfWriter: (chunk, done) => {
        lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        setImmediate(() => done(null));
      },
    },
  );
}, 30_000);

afterAll(async () => {
  await sidecar.close();
  await Promise.all([app.close(), agent.close()]);
  pki.remove();
});

/** Every reference of a dashboard and of alarms over one virtual service, synthesized. */
function referenced(): MetricReference[] {
  const stack = newStack();
  const mesh = new Mesh(stack, 'Mesh', { meshName: 'demo' });
  const service = new VirtualService(stack, 'Svc', { virtualServiceName: 'svc.demo.local', virtualServiceProvider: VirtualServiceProvider.none(mesh) });
  mesh.addDashboard('Dashboard');
  mesh.addAlarms('Alarms', { virtualServices: [service] });
  const template = Template.fromStack(stack);
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = JSON.parse(cfnText(dashboard.Properties.DashboardBody, () => cdk.Aws.REGION)) as DashboardBody;
  const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).flatMap(([id, r]) => referencesInAlarm(r.Properties as AlarmProperties, id));
  return [...referencesInDashboard(body), ...alarms];
}

test('every metric the dashboard and alarms reference is in the EMF documents a running sidecar writes', async () => {
  const egress = sidecar.handle.ports.egress!;
  const svc = { host: 'svc.demo.local:8080' };
  expect((await get(egress, '/ok', svc)).status).toBe(200);
  expect((await get(egress, '/nowhere', svc)).status).toBe(404);
  // Both endpoints refuse: the retry is counted on the cluster, and the answer is a 503.
  expect((await get(egress, '/dead', svc)).status).toBe(503);

  const refs = referenced();
  expect(refs.length).toBeGreaterThan(20);
  const emitted = (): Set<string> => {
    const found = new Set<string>();
    for (const line of lines) {
      const doc = JSON.parse(line) as Doc;
      for (const d of doc._aws.CloudWatchMetrics) {
        for (const set of d.Dimensions) for (const m of d.Metrics) found.add(`${d.Namespace}/${m.Name} {${[...set].sort().join(',')}}`);
      }
    }
    return found;
  };
  const missing = (): string[] => refs.map((r) => `${r.namespace}/${r.metricName} {${r.dimensions.join(',')}}`).filter((k) => !emitted().has(k));
  // Waited for, then asserted, so that a failure names what is missing rather than a timeout.
  await eventually(() => missing().length === 0, 'every referenced metric in an EMF document', 15_000).catch(() => undefined);
  expect([...new Set(missing())]).toEqual([]);
  expect(new Set(refs.map((r) => r.namespace))).toEqual(new Set([EMF_NAMESPACE]));
}, 60_000);
