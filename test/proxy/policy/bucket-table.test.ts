/** The keyed bucket table: one bucket per key, bounded by its cap whatever number of keys arrives. */
import { BucketTable } from '../../../proxy/policy/bucket-table';

// No fill within the tests' clock: a spent bucket stays spent unless it is evicted.
const shape = { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1e9 };

test('a key keeps its own bucket: another key does not spend it', () => {
  const t = new BucketTable(shape, 10);
  expect(t.bucket('a', 0).take(0)).toBe(true);
  expect(t.bucket('a', 1).take(1)).toBe(false);
  expect(t.bucket('b', 1).take(1)).toBe(true);
  expect(t.size).toBe(2);
});

test('100,000 distinct keys never hold more than the cap; keys not used lately are evicted first, a key in use is kept', () => {
  const t = new BucketTable(shape, 10_000);
  t.bucket('hot', 0).take(0);
  let largest = 0;
  for (let i = 0; i < 100_000; i++) {
    t.bucket(`key-${i}`, i).take(i);
    largest = Math.max(largest, t.size);
    // The hot key is used all along, so the eviction hand always finds it used.
    if (i % 1_000 === 0) {
      expect(t.bucket('hot', i).take(i)).toBe(false);
    }
  }
  expect(largest).toBe(10_000);
  expect(t.size).toBe(10_000);
  // An early key was evicted: it comes back with a full bucket; a recent one is still empty.
  expect(t.bucket('key-0', 100_000).take(100_000)).toBe(true);
  expect(t.bucket('key-99999', 100_000).take(100_000)).toBe(false);
  expect(t.bucket('hot', 100_000).take(100_000)).toBe(false);
});

test('second chance: a key used again outlives keys seen once, even older ones', () => {
  const t = new BucketTable(shape, 3);
  for (const k of ['a', 'b', 'c']) t.bucket(k, 0).take(0);
  t.bucket('a', 1); // a comes back
  t.bucket('d', 2).take(2); // full: the hand passes a (used: kept, to the back) and evicts b
  expect(t.size).toBe(3);
  expect(t.bucket('a', 3).take(3)).toBe(false); // still a's spent bucket
  expect(t.bucket('c', 3).take(3)).toBe(false);
  // b was evicted: it comes back full (and takes over another key's slot).
  expect(t.bucket('b', 3).take(3)).toBe(true);
  expect(t.size).toBe(3);
});
