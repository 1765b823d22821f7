/** The series cap: past it, records count into one overflow series, and the overflow is counted. */
import { CompletionRecord } from '../../../proxy/exchange/record';
import { MeshMetrics } from '../../../proxy/telemetry/mesh-metrics';

function record(status: number, route: string): CompletionRecord {
  const r = new CompletionRecord('http', 'egress', '127.0.0.1', { principal: undefined } as never);
  r.status = status;
  r.route = route;
  r.cluster = 'app';
  r.durationMs = 3;
  return r;
}

test('records past the cap go to the overflow series, counted; known series keep counting', () => {
  const m = new MeshMetrics({ node: 'n', ownPrincipal: () => undefined, maxSeries: 2 });
  m.record(record(200, 'a'));
  m.record(record(500, 'a'));
  m.record(record(404, 'b'));
  m.record(record(404, 'c'));
  m.record(record(200, 'a'));
  expect(m.requestSeries.map((s) => s.requests)).toEqual([2, 1]);
  expect(m.overflowed).toBe(2);
  const text = m.renderPrometheus({ clusters: [], certificateNotAfter: undefined, now: 0 });
  expect(text).toMatch(/istio_requests_total\{reporter="overflow",[^}]*\} 2\n/);
  expect(text).toContain('weft_metrics_series_overflow_total 2\n');
});

test('a series is found again without a new one (the same label values, the same series)', () => {
  const m = new MeshMetrics({ node: 'n', ownPrincipal: () => undefined });
  for (let i = 0; i < 100; i++) m.record(record(200, 'a'));
  expect(m.requestSeries).toHaveLength(1);
  expect(m.requestSeries[0].duration.count).toBe(100);
  expect(m.requestSeries[0].duration.counts[2]).toBe(100); // 3 ms falls in the (1, 5] bucket
});

test('the certificate expiry gauge counts seconds to notAfter; label values are escaped', () => {
  const m = new MeshMetrics({ node: 'n', ownPrincipal: () => undefined });
  m.record(record(200, 'say "hi"\\'));
  const text = m.renderPrometheus({ clusters: [], certificateNotAfter: new Date(90_000), now: 30_000 });
  expect(text).toContain('weft_certificate_expiry_seconds 60\n');
  expect(text).toContain('route="say \\"hi\\"\\\\"');
});
