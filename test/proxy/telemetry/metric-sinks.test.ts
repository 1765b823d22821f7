import { metricSinks } from '../../../proxy/telemetry/metric-sinks';

test('`--metrics` names sinks, comma-separated, or none', () => {
  expect([...metricSinks('prometheus')]).toEqual(['prometheus']);
  expect([...metricSinks('emf, prometheus')]).toEqual(['emf', 'prometheus']);
  expect(metricSinks('none').size).toBe(0);
  expect(() => metricSinks('statsd')).toThrow(/metrics: expected 'none' or a comma-separated list of prometheus, emf, got: "statsd"/);
  // Not built yet: refused, not accepted and silently not applied.
  expect(() => metricSinks('emf,cloudwatch')).toThrow(/'cloudwatch' \(PutMetricData\) is not built yet/);
});
