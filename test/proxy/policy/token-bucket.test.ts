/** The token bucket on an injected clock: starts full, fills by whole intervals up to its cap, never below zero. */
import { TokenBucket } from '../../../proxy/policy/token-bucket';

const takeAll = (b: TokenBucket, now: number): number => {
  let n = 0;
  while (b.take(now)) n++;
  return n;
};

test('starts full and refuses once empty', () => {
  const b = new TokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 100 }, 0);
  expect(takeAll(b, 0)).toBe(3);
  expect(b.take(99)).toBe(false);
});

test('gains tokensPerFill at each whole interval, lazily, capped at maxTokens', () => {
  const b = new TokenBucket({ maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 100 }, 1_000);
  expect(takeAll(b, 1_000)).toBe(10);
  expect(takeAll(b, 1_099)).toBe(0);
  expect(takeAll(b, 1_100)).toBe(2);
  // Three intervals later (1,200, 1,300, 1,400): three fills at once.
  expect(takeAll(b, 1_450)).toBe(6);
  // Idle for long: full again, never more.
  expect(takeAll(b, 1_000_000)).toBe(10);
});

test('msUntilFill is the time to the next fill; untake gives back a token, not above the cap', () => {
  const b = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1_000 }, 0);
  expect(b.msUntilFill(250)).toBe(750);
  takeAll(b, 250);
  b.untake();
  expect(takeAll(b, 250)).toBe(1);
  const full = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1_000 }, 0);
  full.untake();
  expect(takeAll(full, 0)).toBe(2);
});

test('over a long run the accepted count is maxTokens plus the fills, whatever the demand', () => {
  const b = new TokenBucket({ maxTokens: 5, tokensPerFill: 5, fillIntervalMs: 100 }, 0);
  let accepted = 0;
  // Twice the rate (100/s offered against 50/s): one attempt every 10 ms for 10 s.
  for (let t = 0; t < 10_000; t += 10) if (b.take(t)) accepted++;
  expect(accepted).toBe(5 + 99 * 5);
});

test('reset refills a reused bucket and restarts its interval', () => {
  const b = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 100 }, 0);
  b.take(0);
  b.reset(50);
  expect(b.take(50)).toBe(true);
  expect(b.msUntilFill(50)).toBe(100);
});
