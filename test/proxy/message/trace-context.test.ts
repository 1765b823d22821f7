/**
 * Trace context headers: each format read on its own, the precedence between them, malformed
 * values ignored, and the headers written for the next hop.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { readTraceContext, TRACE_FORMATS, writeTraceContext, type TraceFields } from '../../../proxy/message/trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function read(h: IncomingHttpHeaders): TraceFields & { formats: number } {
  const into: TraceFields = { traceId: 'stale', parentSpanId: 'stale', traceSampled: true };
  const formats = readTraceContext(h, into);
  return { ...into, formats };
}

const none = { traceId: undefined, parentSpanId: undefined, traceSampled: undefined };

describe('reading one format', () => {
  test.each([
    ['W3C sampled', { traceparent: `00-${TRACE}-${SPAN}-01` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: true, formats: TRACE_FORMATS.w3c }],
    ['W3C not sampled', { traceparent: `00-${TRACE}-${SPAN}-00` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: false }],
    ['W3C of a later version with more fields', { traceparent: `01-${TRACE}-${SPAN}-03-what-comes-next` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: true }],
    ['B3 single', { b3: `${TRACE}-${SPAN}-1` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: true, formats: TRACE_FORMATS.b3 }],
    ['B3 single with a parent', { b3: `${TRACE}-${SPAN}-0-05e3ac9a4f6e3b90` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: false }],
    ['B3 single without a decision', { b3: `${TRACE}-${SPAN}` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: undefined }],
    ['B3 single debug', { b3: `${TRACE}-${SPAN}-d` }, { traceId: TRACE, traceSampled: true }],
    ['B3 single 64-bit trace id', { b3: `a3ce929d0e0e4736-${SPAN}-1` }, { traceId: `0000000000000000a3ce929d0e0e4736`, parentSpanId: SPAN }],
    ['B3 single decision only', { b3: '0' }, { ...none, traceSampled: false }],
    ['B3 multi', { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: true, formats: TRACE_FORMATS.b3Multi }],
    ['B3 multi debug flag', { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-flags': '1' }, { traceId: TRACE, traceSampled: true }],
    ['B3 multi decision only', { 'x-b3-sampled': '0' }, { ...none, traceSampled: false, formats: TRACE_FORMATS.b3Multi }],
    // X-Ray's Root is its 8 hex digits of time and 24 of random, which together are the W3C id.
    ['X-Ray', { 'x-amzn-trace-id': `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=${SPAN};Sampled=1` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: true, formats: TRACE_FORMATS.xray }],
    ['X-Ray from a load balancer (Root only, other fields)', { 'x-amzn-trace-id': 'Self=1-67891234-12456789abcdef012345678;Root=1-4bf92f35-77b34da6a3ce929d0e0e4736' }, { traceId: TRACE, parentSpanId: undefined, traceSampled: undefined }],
    ['X-Ray with the decision deferred', { 'x-amzn-trace-id': `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736; Parent=${SPAN}; Sampled=?` }, { traceId: TRACE, parentSpanId: SPAN, traceSampled: undefined }],
  ])('%s', (_, headers, expected) => {
    expect(read(headers)).toMatchObject(expected);
  });
});

describe('malformed headers are ignored, never an error', () => {
  test.each([
    ['traceparent', `00-${TRACE}-${SPAN}-1`],
    ['traceparent', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['traceparent', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['traceparent', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['traceparent', `ff-${TRACE}-${SPAN}-01`],
    ['traceparent', `00-${TRACE}-${SPAN}-01-extra`],
    ['traceparent', `00_${TRACE}_${SPAN}_01`],
    ['b3', `${TRACE}-${SPAN}-x`],
    ['b3', `${TRACE.slice(1)}-${SPAN}-1`],
    ['b3', `${TRACE}-${SPAN.slice(1)}`],
    ['b3', 'garbage'],
    ['x-b3-traceid', 'xyz'],
    ['x-amzn-trace-id', 'Root=1-4bf92f35-77b34da6a3ce929d0e0e473'],
    ['x-amzn-trace-id', 'Root=2-4bf92f35-77b34da6a3ce929d0e0e4736'],
    ['x-amzn-trace-id', `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=${SPAN}0`],
    ['x-amzn-trace-id', 'Sampled=1'],
  ])('%s: %s', (name, value) => {
    const got = read({ [name]: value });
    expect(got.traceId).toBeUndefined();
    expect(got.parentSpanId).toBeUndefined();
    expect(got.formats).not.toBe(0);
  });

  test('an array value (a repeated header) is ignored', () => {
    expect(read({ traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`] as unknown as string })).toMatchObject(none);
  });
});

describe('precedence: W3C, then B3 single, then B3 multi, then X-Ray; the first well-formed one wins', () => {
  const other = (n: number) => `${n}`.repeat(32).slice(0, 32);
  const all = {
    traceparent: `00-${other(1)}-${SPAN}-01`,
    b3: `${other(2)}-${SPAN}-1`,
    'x-b3-traceid': other(3),
    'x-b3-spanid': SPAN,
    'x-amzn-trace-id': `Root=1-${other(4).slice(0, 8)}-${other(4).slice(8)}`,
  };

  test('all four: W3C', () => {
    expect(read(all)).toMatchObject({ traceId: other(1), formats: 15 });
  });

  test.each([
    [['traceparent'], other(2)],
    [['traceparent', 'b3'], other(3)],
    [['traceparent', 'b3', 'x-b3-traceid'], other(4)],
  ])('without %p: the next one', (without, traceId) => {
    const h: Record<string, string> = { ...all };
    for (const k of without) delete h[k];
    expect(read(h).traceId).toBe(traceId);
  });

  test('a malformed traceparent gives way to a well-formed B3', () => {
    expect(read({ ...all, traceparent: 'nonsense' }).traceId).toBe(other(2));
  });
});

describe('writing the next hop', () => {
  test('traceparent always; each other format the caller used, with this hop as the parent', () => {
    const out: Record<string, string | string[]> = { 'x-b3-flags': '1', tracestate: 'vendor=x' };
    writeTraceContext(out, TRACE_FORMATS.w3c | TRACE_FORMATS.b3 | TRACE_FORMATS.b3Multi | TRACE_FORMATS.xray, TRACE, 'b7ad6b7169203331', SPAN, true);
    expect(out).toEqual({
      traceparent: `00-${TRACE}-b7ad6b7169203331-01`,
      tracestate: 'vendor=x',
      b3: `${TRACE}-b7ad6b7169203331-1`,
      'x-b3-traceid': TRACE,
      'x-b3-spanid': 'b7ad6b7169203331',
      'x-b3-parentspanid': SPAN,
      'x-b3-sampled': '1',
      'x-amzn-trace-id': 'Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=b7ad6b7169203331;Sampled=1',
    });
  });

  test('not sampled, no parent: the decision travels, a stale parent is removed', () => {
    const out: Record<string, string | string[]> = { 'x-b3-parentspanid': 'ffffffffffffffff' };
    writeTraceContext(out, TRACE_FORMATS.b3Multi, TRACE, SPAN, undefined, false);
    expect(out).toEqual({ traceparent: `00-${TRACE}-${SPAN}-00`, 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' });
  });

  test('what is written reads back as the same context in every format', () => {
    const out: Record<string, string | string[]> = {};
    writeTraceContext(out, 15, TRACE, SPAN, undefined, true);
    for (const name of ['traceparent', 'b3', 'x-amzn-trace-id']) {
      expect(read({ [name]: out[name] as string })).toMatchObject({ traceId: TRACE, parentSpanId: SPAN, traceSampled: true });
    }
    expect(read({ 'x-b3-traceid': out['x-b3-traceid'] as string, 'x-b3-spanid': out['x-b3-spanid'] as string, 'x-b3-sampled': out['x-b3-sampled'] as string })).toMatchObject({ traceId: TRACE, parentSpanId: SPAN, traceSampled: true });
  });
});
