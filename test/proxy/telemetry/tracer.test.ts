/**
 * The per-request half of tracing on its own: off is a no-op, a caller's decision is kept, a new
 * trace is sampled by one draw of the (seeded) random source, and ids are fresh per hop.
 */
import { CompletionRecord } from '../../../proxy/exchange/record';
import { seededRandom } from '../../../proxy/seeded-random';
import { Tracer, TraceIds } from '../../../proxy/telemetry/tracer';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = '00f067aa0ba902b7';

const record = () => new CompletionRecord('http', 'egress', '127.0.0.1', { authenticated: false, principal: undefined, encrypted: false });

test('off: nothing is read, written or drawn', () => {
  let draws = 0;
  const tracer = new Tracer(() => (draws++, 0));
  const r = record();
  const out: Record<string, string> = { traceparent: `00-${TRACE}-${CALLER}-01` };
  tracer.propagate(r, { traceparent: `00-${TRACE}-${CALLER}-01` }, out);
  expect(out).toEqual({ traceparent: `00-${TRACE}-${CALLER}-01` });
  expect(r).toMatchObject({ traceId: undefined, spanId: undefined, traceSampled: undefined });
  expect(draws).toBe(0);
  expect(tracer.on).toBe(false);
});

test('a caller\'s context and decision are kept, with a new span id as the next parent', () => {
  let draws = 0;
  const tracer = new Tracer(() => (draws++, 0));
  tracer.configure({ samplingPercentage: 100, endpoint: 'http://localhost:4318/v1/traces' });
  const r = record();
  const out: Record<string, string> = {};
  tracer.propagate(r, { traceparent: `00-${TRACE}-${CALLER}-00` }, out);
  expect(r).toMatchObject({ traceId: TRACE, parentSpanId: CALLER, traceSampled: false });
  expect(r.spanId).toMatch(/^[0-9a-f]{16}$/);
  expect(out.traceparent).toBe(`00-${TRACE}-${r.spanId}-00`);
  expect(draws).toBe(0);
});

test('new traces: 0% and 100% draw nothing; a rate in between is one draw each, repeatable by seed', () => {
  let draws = 0;
  const counting = () => (draws++, 0.5);
  const tracer = new Tracer(counting);
  for (const [pct, sampled] of [[0, false], [100, true]] as const) {
    tracer.configure({ samplingPercentage: pct, endpoint: 'http://localhost:4318/v1/traces' });
    const r = record();
    tracer.propagate(r, {}, {});
    expect(r).toMatchObject({ traceSampled: sampled, parentSpanId: undefined });
    expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
  }
  expect(draws).toBe(0);

  const decisions = (seed: number) => {
    const t = new Tracer(seededRandom(seed));
    t.configure({ samplingPercentage: 30, endpoint: 'http://localhost:4318/v1/traces' });
    return Array.from({ length: 200 }, () => {
      const r = record();
      t.propagate(r, {}, {});
      return r.traceSampled;
    });
  };
  const expected = (() => {
    const random = seededRandom(11);
    return Array.from({ length: 200 }, () => random() < 0.3);
  })();
  expect(decisions(11)).toEqual(expected);
  const sampled = expected.filter(Boolean).length;
  expect(sampled).toBeGreaterThan(30);
  expect(sampled).toBeLessThan(90);
});

test('ids are fresh per hop, never all zero, across pool refills', () => {
  const ids = new TraceIds();
  const seen = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const span = ids.spanId();
    expect(span).toMatch(/^[0-9a-f]{16}$/);
    expect(span).not.toBe('0000000000000000');
    seen.add(span);
  }
  expect(seen.size).toBe(2_000);
  expect(ids.traceId()).toMatch(/^[0-9a-f]{32}$/);
});
