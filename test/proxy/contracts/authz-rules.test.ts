/** Authorization values checked where they are written, each problem at its field path. */
import { authorizationIssues, parseCidr } from '../../../proxy/contracts/authz-rules';
import { AuthzPolicySchema } from '../../../proxy/contracts/node-config';

test('CIDRs: v4, v6, bare addresses; bad prefixes and hosts refused', () => {
  expect(parseCidr('10.0.0.0/8')).toEqual({ family: 4, address: '10.0.0.0', prefix: 8 });
  expect(parseCidr('2001:db8::/32')).toEqual({ family: 6, address: '2001:db8::', prefix: 32 });
  expect(parseCidr('10.0.0.1')).toEqual({ family: 4, address: '10.0.0.1', prefix: 32 });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'host/8', '::1/129', '10.0.0.0/', '10.0.0.0/x']) expect(parseCidr(bad)).toBeUndefined();
});

test('every bad value is reported at its path', () => {
  const policy = AuthzPolicySchema.parse({
    name: 'p',
    rules: [
      {
        from: [{ principals: ['orders', 'td/ns/a/sa/b', 'spiffe://td/ns/a/sa/b', '*'], ipBlocks: ['10.0.0.0/40'] }],
        to: [{ paths: ['/a/*/b'] }],
        when: [{ key: 'request.header[x]', values: ['1'] }, { key: 'destination.port', values: ['http'] }, { key: 'source.ip', notValues: ['nope'] }, { key: 'request.headers[x]' }],
      },
    ],
  });
  expect(authorizationIssues([policy], 'inbound.policy.authorization').map((i) => i.path)).toEqual([
    'inbound.policy.authorization[0].rules[0].from[0].principals[0]',
    'inbound.policy.authorization[0].rules[0].from[0].ipBlocks[0]',
    'inbound.policy.authorization[0].rules[0].to[0].paths[0]',
    'inbound.policy.authorization[0].rules[0].when[0].key',
    'inbound.policy.authorization[0].rules[0].when[1].values[0]',
    'inbound.policy.authorization[0].rules[0].when[2].notValues[0]',
    'inbound.policy.authorization[0].rules[0].when[3]',
  ]);
});

test('a valid policy has no issues', () => {
  const policy = AuthzPolicySchema.parse({ name: 'ok', rules: [{ from: [{ principals: ['*/sa/x'] }], when: [{ key: 'request.auth.claims[iss]', values: ['a'] }] }] });
  expect(authorizationIssues([policy], 'a')).toEqual([]);
});
