import { ClusterRuntime, type EndpointOutcome } from '../../../proxy/cluster/cluster-runtime';
import { ClusterSchema } from '../../../proxy/contracts';
import type { DiscoveredEndpoint } from '../../../proxy/endpoints/endpoint-source';
import { EJECTED, type Endpoint } from '../../../proxy/endpoints/endpoint';
import type { FailureKind } from '../../../proxy/cluster/upstream-errors';
import { OutlierDetector } from '../../../proxy/health';
import { ManualSource } from '../fixtures/manual-endpoint-source';

const ep = (n: number): DiscoveredEndpoint => ({ id: `i-${n}`, address: '127.0.0.1', port: 1000 + n, zone: undefined, weight: 1, healthy: true });

function setup(od: Record<string, unknown>, endpoints = 2) {
  const def = ClusterSchema.parse({
    name: 'orders:8080',
    virtualNode: 'orders',
    port: 8080,
    protocol: 'http',
    discovery: { type: 'cloudMap', namespaceName: 'demo.local', serviceName: 'orders' },
    outlierDetection: { consecutive5xx: 3, intervalMs: 100, baseEjectionMs: 1_000, maxEjectionPercent: 50, ...od },
  });
  const source = new ManualSource();
  const runtime = new ClusterRuntime(def, 'k', undefined, source, undefined);
  source.push(Array.from({ length: endpoints }, (_, i) => ep(i + 1)));
  let clock = 0;
  const detector = new OutlierDetector(runtime, def.outlierDetection!, () => clock, false);
  runtime.addMonitor(detector);
  const report = (e: Endpoint, status: number, failure?: FailureKind) => {
    const outcome: EndpointOutcome = { endpoint: e, status, failure, startedAt: 0, endedAt: 0, responseBytes: 0 };
    runtime.reportOutcome(outcome);
  };
  const at = (ms: number) => {
    clock = ms;
    detector.sweep();
  };
  return { runtime, detector, source, report, at, endpoints: runtime.currentEndpoints };
}

const ejected = (e: Endpoint) => (e.health & EJECTED) !== 0;

test('consecutive 5xx eject; a success in between restarts the count', () => {
  const { report, endpoints, runtime } = setup({});
  const [a] = endpoints;
  report(a, 500);
  report(a, 500);
  report(a, 200);
  report(a, 500);
  report(a, 503);
  expect(ejected(a)).toBe(false);
  report(a, 500);
  expect(ejected(a)).toBe(true);
  expect(runtime.stats.ejectionsConsecutive5xx).toBe(1);
  expect(runtime.describe().endpoints).toContainEqual(expect.objectContaining({ id: 'i-1', healthy: false, unhealthy: ['outlier_ejected'], outlier: expect.objectContaining({ ejected: true, ejections: 1, ejectionMs: 1_000 }) }));
});

test('ejection time is base × times ejected, up to the cap, and the multiplier decays while healthy', () => {
  const { report, endpoints, at } = setup({ maxEjectionMs: 2_500 });
  const [a] = endpoints;
  const eject = () => [500, 500, 500].forEach((s) => report(a, s));
  eject();
  at(999);
  expect(ejected(a)).toBe(true);
  at(1_000);
  expect(ejected(a)).toBe(false);
  eject(); // at 1,000: second ejection, 2 s
  expect(a.outlier).toMatchObject({ multiplier: 2, ejectionMs: 2_000 });
  at(2_999);
  expect(ejected(a)).toBe(true);
  at(3_000);
  expect(ejected(a)).toBe(false);
  eject(); // third: 3 × 1 s is past the 2.5 s cap
  expect(a.outlier).toMatchObject({ multiplier: 2, ejectionMs: 2_000 });
  at(5_000);
  expect(ejected(a)).toBe(false);
  at(5_050); // less than an interval since it came back: no decay yet
  expect(a.outlier!.multiplier).toBe(2);
  at(5_100);
  expect(a.outlier!.multiplier).toBe(1);
  at(5_200);
  expect(a.outlier!.multiplier).toBe(0);
  eject();
  expect(a.outlier).toMatchObject({ multiplier: 1, ejectionMs: 1_000 });
});

test('gateway errors: connect failures, resets and 502-504 count; a 500 ends the run', () => {
  const { report, endpoints, runtime } = setup({ consecutive5xx: 100, consecutiveGatewayErrors: 3 });
  const [a, b] = endpoints;
  report(a, 0, 'connect');
  report(a, 0, 'reset');
  report(a, 500);
  report(a, 502);
  report(a, 0, 'client-gone'); // not the endpoint's doing: neither counts nor resets
  report(a, 504);
  expect(ejected(a)).toBe(false);
  report(a, 0, 'timeout');
  expect(ejected(a)).toBe(true);
  expect(runtime.stats.ejectionsConsecutiveGatewayErrors).toBe(1);
  report(b, 0, 'connect');
  expect(b.outlier!.consecutiveGatewayErrors).toBe(1);
});

test('without consecutiveGatewayErrors, local errors still count as 5xx (Envoy maps them to 503)', () => {
  const { report, endpoints } = setup({});
  const [a] = endpoints;
  report(a, 0, 'connect');
  report(a, 0, 'tls');
  report(a, 0, 'reset');
  expect(ejected(a)).toBe(true);
});

test('maxEjectionPercent bounds ejections, but one endpoint can always be ejected', () => {
  const { report, endpoints, runtime, detector, at } = setup({ maxEjectionPercent: 10 }, 4);
  const [a, b] = endpoints;
  for (const e of [a, b]) for (let i = 0; i < 3; i++) report(e, 500);
  expect(ejected(a)).toBe(true);
  expect(ejected(b)).toBe(false);
  expect(runtime.stats.ejectionsOverflow).toBe(1);
  expect(detector.ejected).toBe(1);
  at(1_000);
  for (let i = 0; i < 3; i++) report(b, 500);
  expect(ejected(b)).toBe(true);
});

test('an ejected endpoint that discovery drops frees its place', () => {
  const { report, endpoints, source, detector } = setup({}, 2);
  for (let i = 0; i < 3; i++) report(endpoints[0], 500);
  expect(detector.ejected).toBe(1);
  source.push([ep(2), ep(3)]);
  expect(detector.ejected).toBe(0);
});
