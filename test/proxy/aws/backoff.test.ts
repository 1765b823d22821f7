import { Backoff, jittered } from '../../../proxy/aws/backoff';
import { endpointFromInstance, matchesAttributes } from '../../../proxy/endpoints/instance-endpoint';

test('jittered spreads over ±20% and no further', () => {
  expect(jittered(1_000, () => 0)).toBe(800);
  expect(jittered(1_000, () => 0.5)).toBe(1_000);
  expect(jittered(1_000, () => 0.999999)).toBe(1_200);
});

test('Backoff doubles from the base to the cap, with half of each step random, and reset starts over', () => {
  const low = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0 });
  expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
  expect(low.failures).toBe(6);
  low.reset();
  expect(low.failures).toBe(0);
  expect(low.next()).toBe(50);
  const high = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.999999 });
  expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000]);
  const defaults = new Backoff({ random: () => 1 });
  for (let i = 0; i < 100; i++) defaults.next();
  expect(defaults.next()).toBe(60_000);
});

test('endpointFromInstance: address, port, zone and health from the Cloud Map attributes', () => {
  const attrs = { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '15000', AVAILABILITY_ZONE: 'us-east-1a' };
  expect(endpointFromInstance({ instanceId: 'a', attributes: attrs, healthStatus: 'UNKNOWN' })).toEqual({ id: 'a', address: '10.0.0.1', port: 15000, zone: 'us-east-1a', weight: 1, healthy: true });
  expect(endpointFromInstance({ instanceId: 'a', attributes: attrs, healthStatus: 'UNHEALTHY' })?.healthy).toBe(false);
  expect(endpointFromInstance({ instanceId: 'a', attributes: { ...attrs, AVAILABILITY_ZONE: '' } })?.zone).toBeUndefined();
  for (const port of ['0', '65536', '15000x', '-1', '', '1e3']) {
    expect(endpointFromInstance({ instanceId: 'a', attributes: { ...attrs, AWS_INSTANCE_PORT: port } })).toBeUndefined();
  }
  expect(endpointFromInstance({ instanceId: 'a', attributes: { ...attrs, AWS_INSTANCE_IPV4: ' ' } })).toBeUndefined();
});

test('matchesAttributes: every filter key with the same value', () => {
  expect(matchesAttributes({ version: 'v1', zone: 'a' }, { version: 'v1' })).toBe(true);
  expect(matchesAttributes({ version: 'v1' }, {})).toBe(true);
  expect(matchesAttributes({ version: 'v2' }, { version: 'v1' })).toBe(false);
  expect(matchesAttributes({}, { version: 'v1' })).toBe(false);
});
