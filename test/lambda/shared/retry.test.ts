import { isRetryable, isThrottling, mapLimit, withRetry } from '../../../lambda/shared/retry';
import { awsError, instantRetry } from '../aws-errors';

describe('withRetry', () => {
  test.each(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'])('%s is throttling and retried', async (name) => {
    expect(isThrottling(awsError(name))).toBe(true);
    const retry = instantRetry();
    let calls = 0;
    const out = await withRetry('op', async () => {
      if (++calls < 3) throw awsError(name);
      return 'ok';
    }, retry);
    expect(out).toBe('ok');
    expect(calls).toBe(3);
    // Exponential backoff (full jitter with random()=1 gives the cap of each step).
    expect(retry.delays).toEqual([100, 200]);
  });

  test('5xx and dropped connections are retried; client errors are not', async () => {
    expect(isRetryable(awsError('InternalFailure', 500))).toBe(true);
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(awsError('AccessDeniedException', 403))).toBe(false);
    let calls = 0;
    await expect(
      withRetry('op', async () => {
        calls++;
        throw awsError('ValidationException');
      }, instantRetry()),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect(calls).toBe(1);
  });

  test('exhausted retries raise WEFT_ERR_AWS_RETRIES_EXHAUSTED with the cause', async () => {
    const retry = instantRetry();
    const err = await withRetry('op', async () => {
      throw awsError('ThrottlingException');
    }, { ...retry, maxAttempts: 4, maxDelayMs: 250 }).catch((e) => e);
    expect(err.code).toBe('WEFT_ERR_AWS_RETRIES_EXHAUSTED');
    expect(err.cause.name).toBe('ThrottlingException');
    expect(retry.delays).toEqual([100, 200, 250]);
  });
});

describe('mapLimit', () => {
  test('keeps order and never exceeds the limit', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
