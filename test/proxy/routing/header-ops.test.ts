import { HeaderOpsSchema } from '../../../proxy/contracts';
import { applyRequestHeaderOps, applyResponseHeaderOps } from '../../../proxy/routing/header-ops';

describe('header operations', () => {
  test('remove, then set (replacing every value), then add (appending)', () => {
    const ops = HeaderOpsSchema.parse({
      remove: ['x-internal', 'x-replaced'],
      set: [
        { name: 'X-Replaced', value: 'new' },
        { name: 'x-multi', value: 'one' },
      ],
      add: [
        { name: 'x-trace', value: 'b' },
        { name: 'x-fresh', value: '1' },
        { name: 'set-cookie', value: 'c=3' },
      ],
    });
    const headers: Record<string, string | string[] | undefined> = {
      'x-internal': 'secret',
      'x-replaced': 'old',
      'x-multi': ['1', '2'],
      'x-trace': 'a',
      'set-cookie': ['a=1', 'b=2'],
    };
    const cookies = headers['set-cookie'];
    applyRequestHeaderOps(ops, headers);
    expect(headers).toEqual({
      'x-replaced': 'new',
      'x-multi': 'one',
      'x-trace': ['a', 'b'],
      'x-fresh': '1',
      'set-cookie': ['a=1', 'b=2', 'c=3'],
    });
    // The caller's array is not mutated.
    expect(cookies).toEqual(['a=1', 'b=2']);
  });

  test('set on a header that is also removed wins (remove runs first)', () => {
    const ops = HeaderOpsSchema.parse({ remove: ['server'], set: [{ name: 'server', value: 'weft' }] });
    const headers: Record<string, string | string[] | undefined> = { server: 'nginx' };
    applyResponseHeaderOps(ops, headers);
    expect(headers).toEqual({ server: 'weft' });
  });

  test('no ops: headers untouched', () => {
    const headers = { a: '1' };
    applyRequestHeaderOps(undefined, headers);
    applyResponseHeaderOps(undefined, headers);
    expect(headers).toEqual({ a: '1' });
  });
});
