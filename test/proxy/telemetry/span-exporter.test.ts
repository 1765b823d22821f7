/**
 * The span exporter against a real HTTP collector: batches, the queue bound, and shutdown, which
 * sends what is queued until its deadline and counts the rest as dropped.
 */
import { CompletionRecord } from '../../../proxy/exchange/record';
import { silentLogger } from '../../../proxy/log';
import { SpanExporter } from '../../../proxy/telemetry/span-exporter';
import { startCollector } from './otlp-collector';

const source = () => ({ serviceName: 'orders', mesh: 'demo' });

function sampled(i: number, traceSampled = true): CompletionRecord {
  const r = new CompletionRecord('http', 'egress', '127.0.0.1', { authenticated: false, principal: undefined, encrypted: false });
  Object.assign(r, { method: 'GET', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: i.toString(16).padStart(16, '0'), traceSampled, status: 200 });
  return r;
}

test('unsampled records and records without a span are not queued; a full queue drops and counts', () => {
  const exporter = new SpanExporter({ endpoint: () => 'http://127.0.0.1:9/v1/traces', source, logger: silentLogger, maxQueue: 3, intervalMs: 60_000 });
  exporter.record(sampled(1, false));
  exporter.record(Object.assign(sampled(2), { spanId: undefined }));
  for (let i = 3; i < 8; i++) exporter.record(sampled(i));
  expect(exporter.stats()).toMatchObject({ queued: 3, dropped: 2, exported: 0 });
  return exporter.close(0);
});

test('shutdown sends what is queued in batches before it resolves', async () => {
  const collector = await startCollector();
  try {
    const exporter = new SpanExporter({ endpoint: () => collector.url, source, logger: silentLogger, maxBatch: 2, intervalMs: 60_000 });
    for (let i = 1; i <= 5; i++) exporter.record(sampled(i));
    await exporter.close(Date.now() + 10_000);
    expect(collector.exports).toHaveLength(3);
    expect(collector.spans().map((s) => s.spanId)).toEqual([1, 2, 3, 4, 5].map((i) => i.toString(16).padStart(16, '0')));
    expect(exporter.stats()).toMatchObject({ queued: 0, exported: 5, dropped: 0, exportFailures: 0 });
  } finally {
    await collector.close();
  }
});

test('shutdown with a collector that never answers ends at its deadline and counts what it could not send', async () => {
  const hung = await startCollector({ hang: true });
  try {
    const exporter = new SpanExporter({ endpoint: () => hung.url, source, logger: silentLogger, maxBatch: 2, intervalMs: 60_000 });
    for (let i = 1; i <= 5; i++) exporter.record(sampled(i));
    await exporter.close(Date.now() + 300);
    expect(hung.received()).toBe(1);
    expect(exporter.stats()).toMatchObject({ queued: 0, exported: 0, dropped: 5, exportFailures: 1, inFlight: false });
  } finally {
    await hung.close();
  }
});
