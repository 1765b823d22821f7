import { durationMs } from '../../../lib/model/duration';

test.each([
  [{ unit: 's' as const, value: 15 }, 15000],
  [{ unit: 'ms' as const, value: 250 }, 250],
  ['2s', 2000],
  ['500ms', 500],
  ['1m', 60000],
])('durationMs(%j) = %d', (d, ms) => expect(durationMs(d)).toBe(ms));

test('a malformed string is refused', () => expect(() => durationMs('2h' as never)).toThrow(/not a duration/));
