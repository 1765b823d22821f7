/**
 * EMF's cluster and node documents without a sidecar: each interval's change of the clusters'
 * counters (per target cluster and summed per node), the node's own counters, the certificate
 * gauge at the flush, a rebuilt cluster runtime not counted twice, and the Prometheus series of
 * the same counters.
 */
import type { ClusterStats } from '../../../proxy/cluster/cluster-runtime';
import { EMF_CLUSTER_DIMENSION_SETS, EMF_CLUSTER_METRICS, EMF_NODE_DIMENSIONS, EMF_NODE_METRICS } from '../../../proxy/contracts/metrics-catalog';
import { CompletionRecord } from '../../../proxy/exchange/record';
import type { ControlState } from '../../../proxy/telemetry/control-counters';
import { EmfEmitter } from '../../../proxy/telemetry/emf';
import { LineBuffer } from '../../../proxy/telemetry/line-buffer';
import { MeshMetrics } from '../../../proxy/telemetry/mesh-metrics';
import { newListenerStats } from '../../../proxy/stats';

function clusterStats(): ClusterStats {
  return { timeouts: 0, overflow: 0, ejectionsConsecutive5xx: 0, ejectionsConsecutiveGatewayErrors: 0, healthCheckFailures: 0, tlsFailures: 0, connectFailures: 0, noEndpoint: 0, active: 0 } as ClusterStats;
}

function record(flags: string, attempts = 1): CompletionRecord {
  const r = new CompletionRecord('http', 'inbound', '127.0.0.1', { principal: undefined } as never);
  r.status = 403;
  r.cluster = 'app';
  r.attempts = attempts;
  for (const f of flags === '-' ? [] : flags.split(',')) r.flag(f);
  return r;
}

type Doc = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };

function setup() {
  const lines: string[] = [];
  const metrics = new MeshMetrics({ node: 'n', ownPrincipal: () => undefined });
  const buffer = new LineBuffer((chunk, done) => {
    lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
    done(null);
  });
  const listener = newListenerStats();
  const clusters = [{ name: 'app', stats: clusterStats() }];
  const discovery = { errors: 0, lastSuccessAt: 40_000 as number | undefined };
  const control = (): ControlState => ({ clusters, certificateNotAfter: new Date(100_000), now: 50_000, listeners: [listener], discovery });
  const emf = new EmfEmitter({ metrics, buffer, mesh: () => 'm', node: 'n', control });
  const flush = (): Doc[] => {
    lines.length = 0;
    emf.flush(1_000);
    return lines.map((l) => JSON.parse(l) as Doc);
  };
  return { metrics, clusters, listener, discovery, control, flush };
}

const nodeDoc = (docs: Doc[]): Doc => docs.find((d) => d.TargetCluster === undefined && d[EMF_NODE_METRICS.policyDenials.name] !== undefined)!;
const clusterDoc = (docs: Doc[], name: string): Doc | undefined => docs.find((d) => d.TargetCluster === name && d[EMF_CLUSTER_METRICS.retries.name] !== undefined);

test('cluster counters: each interval writes the change per target cluster and summed on the node document', () => {
  const { metrics, clusters, flush } = setup();
  const s = clusters[0].stats;
  s.timeouts = 2;
  s.overflow = 1;
  s.ejectionsConsecutive5xx = 1;
  s.ejectionsConsecutiveGatewayErrors = 1;
  s.healthCheckFailures = 3;
  metrics.record(record('-', 3));
  let docs = flush();
  const app = clusterDoc(docs, 'app')!;
  expect(app._aws.CloudWatchMetrics[0].Dimensions).toEqual([[...EMF_CLUSTER_DIMENSION_SETS[1]]]);
  expect(app._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).toEqual(Object.values(EMF_CLUSTER_METRICS).map((m) => m.name));
  expect([app.Retries, app.Timeouts, app.Overflows, app.Ejections, app.HealthCheckFailures]).toEqual([2, 2, 1, 2, 3]);
  const node = nodeDoc(docs);
  expect(node._aws.CloudWatchMetrics.map((c) => c.Dimensions)).toEqual([[[...EMF_CLUSTER_DIMENSION_SETS[0]]], [[...EMF_NODE_DIMENSIONS]]]);
  expect([node.Retries, node.Timeouts, node.HealthCheckFailures]).toEqual([2, 2, 3]);

  s.timeouts = 5;
  docs = flush();
  expect([clusterDoc(docs, 'app')!.Timeouts, clusterDoc(docs, 'app')!.Retries]).toEqual([3, 0]);
  docs = flush();
  expect(clusterDoc(docs, 'app')).toBeUndefined(); // nothing changed
  expect(nodeDoc(docs).Timeouts).toBe(0);
});

test('a cluster runtime rebuilt by a reload starts over without counting its retries again', () => {
  const { metrics, clusters, flush } = setup();
  metrics.record(record('-', 2));
  clusters[0].stats.timeouts = 4;
  flush();
  clusters[0] = { name: 'app', stats: clusterStats() };
  clusters[0].stats.timeouts = 1;
  const app = clusterDoc(flush(), 'app')!;
  expect([app.Retries, app.Timeouts]).toEqual([0, 1]);
});

test('node counters: TLS failures both ways, policy denials, rate limited, discovery errors as changes; certificate expiry as the value', () => {
  const { metrics, clusters, listener, discovery, flush } = setup();
  listener.tlsHandshakeFailures = 2;
  clusters[0].stats.tlsFailures = 1;
  metrics.record(record('RBAC'));
  metrics.record(record('RL'));
  metrics.record(record('URX')); // neither
  discovery.errors = 4;
  let node = nodeDoc(flush());
  expect(node._aws.CloudWatchMetrics[1].Metrics.map((m) => m.Name)).toEqual(Object.values(EMF_NODE_METRICS).map((m) => m.name));
  expect([node.TlsHandshakeFailures, node.PolicyDenials, node.RateLimited, node.DiscoveryErrors, node.CertificateExpiry]).toEqual([3, 1, 1, 4, 50]);
  node = nodeDoc(flush());
  expect([node.TlsHandshakeFailures, node.PolicyDenials, node.RateLimited, node.DiscoveryErrors, node.CertificateExpiry]).toEqual([0, 0, 0, 0, 50]);
});

test('Prometheus carries the same counters as totals', () => {
  const { metrics, clusters, listener, control } = setup();
  const s = clusters[0].stats;
  s.ejectionsConsecutive5xx = 2;
  s.healthCheckFailures = 5;
  s.tlsFailures = 1;
  listener.tlsHandshakeFailures = 3;
  metrics.record(record('RBAC'));
  metrics.record(record('RL'));
  metrics.record(record('RL'));
  const text = metrics.renderPrometheus({ ...control(), discovery: { errors: 6, lastSuccessAt: 20_000 } });
  for (const line of [
    'weft_cluster_ejections_total{cluster="app"} 2',
    'weft_cluster_health_check_failures_total{cluster="app"} 5',
    'weft_tls_handshake_failures_total{direction="inbound"} 3',
    'weft_tls_handshake_failures_total{direction="outbound"} 1',
    'weft_policy_denials_total 1',
    'weft_rate_limited_total 2',
    'weft_discovery_errors_total 6',
    'weft_discovery_seconds_since_refresh 30',
    'weft_certificate_expiry_seconds 50',
  ]) expect(text.split('\n')).toContain(line);
  expect(metrics.renderPrometheus({ clusters: [], certificateNotAfter: undefined, now: 0 })).not.toContain('weft_discovery_seconds_since_refresh');
});
