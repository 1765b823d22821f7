/** The compiled matchers: Istio string patterns and CIDR sets (v4 ranges, v4-mapped, v6). */
import { CidrSet, ipv4Of, StringSet } from '../../../proxy/policy/authz-match';

test.each([
  ['/api/v1/orders', '/api/v1/orders', true],
  ['/api/v1/orders', '/api/v1/orders/', false],
  ['/api/v1/*', '/api/v1/orders', true],
  ['/api/v1/*', '/api/v2/orders', false],
  ['*/orders', '/api/v1/orders', true],
  ['*/orders', '/api/v1/order', false],
  ['*', 'anything', true],
  ['*', '', false],
])('pattern %s against %s: %s', (pattern, value, expected) => {
  expect(new StringSet([pattern]).has(value)).toBe(expected);
});

test('an absent value matches no pattern, not even *', () => {
  expect(new StringSet(['*']).has(undefined)).toBe(false);
});

test('folded patterns are lowercased (hosts)', () => {
  expect(new StringSet(['*.Example.COM'], true).has('api.example.com')).toBe(true);
});

test('IPv4 parsing reads plain and v4-mapped addresses and refuses the rest', () => {
  expect(ipv4Of('10.0.0.1')).toBe(0x0a000001);
  expect(ipv4Of('::ffff:10.0.0.1')).toBe(0x0a000001);
  expect(ipv4Of('255.255.255.255')).toBe(0xffffffff);
  for (const bad of ['10.0.0', '10.0.0.256', '10..0.1', '::1', '1.2.3.4.5', '']) expect(ipv4Of(bad)).toBe(-1);
});

test('CIDR sets merge ranges and find addresses by binary search', () => {
  const set = new CidrSet(['10.0.0.0/8', '192.168.1.7', '10.5.0.0/16', '172.16.0.0/12', '0.0.0.0/32']);
  for (const yes of ['10.0.0.0', '10.255.255.255', '192.168.1.7', '::ffff:172.31.255.1', '0.0.0.0']) expect(set.has(yes)).toBe(true);
  for (const no of ['11.0.0.0', '192.168.1.8', '172.32.0.0', '0.0.0.1', '2001:db8::1', '', undefined]) expect(set.has(no)).toBe(false);
});

test('CIDR sets match IPv6 subnets', () => {
  const set = new CidrSet(['2001:db8::/32', '::1']);
  expect(set.has('2001:db8:1::5')).toBe(true);
  expect(set.has('::1')).toBe(true);
  expect(set.has('2001:db9::1')).toBe(false);
  expect(set.has('10.0.0.1')).toBe(false);
});

test('a CIDR host part is masked off: 10.1.2.3/8 is 10.0.0.0/8', () => {
  expect(new CidrSet(['10.1.2.3/8']).has('10.200.0.1')).toBe(true);
});
