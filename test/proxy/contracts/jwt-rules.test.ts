/** JWT rule values checked where they are written and by parseNodeConfig, each problem at its field path. */
import { generateKeyPairSync } from 'node:crypto';
import { jwtRuleIssues, parseJwks } from '../../../proxy/contracts/jwt-rules';
import { parseNodeConfig, sealNodeConfig } from '../../../proxy/contracts/node-config-io';
import { nodeBody } from '../harness';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const x = generateKeyPairSync('x25519');
const jwks = (...keys: unknown[]) => JSON.stringify({ keys });

test('public RSA, EC and Ed25519 keys load; each unusable key is named by its index', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  expect(parseJwks(jwks(rsa.publicKey.export({ format: 'jwk' }), ec.publicKey.export({ format: 'jwk' }), ed.publicKey.export({ format: 'jwk' }))).problems).toEqual([]);
  expect(
    parseJwks(
      jwks(
        { kty: 'oct', k: 'c2VjcmV0' },
        rsa.privateKey.export({ format: 'jwk' }),
        { ...rsa.publicKey.export({ format: 'jwk' }), use: 'enc' },
        x.publicKey.export({ format: 'jwk' }),
        { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' },
        'key',
      ),
    ).problems.map((p) => p.split(' ').slice(0, 3).join(' ')),
  ).toEqual(['keys[0] kty must', 'keys[1] is a', 'keys[2] use must', 'keys[3] an OKP', 'keys[4] is not', 'keys[5] is not']);
  expect(parseJwks('[]').problems).toEqual(['must be a JWKS: a JSON object with a "keys" array']);
});

test('a rule needs exactly one key source, and a jwksUri is http or https', () => {
  expect(
    jwtRuleIssues(
      [
        { issuer: 'a' },
        { issuer: 'b', jwksUri: 'https://b/jwks', jwks: jwks(rsa.publicKey.export({ format: 'jwk' })) },
        { issuer: 'c', jwksUri: 'file:///etc/jwks.json' },
        { issuer: 'd', jwksUri: 'http://127.0.0.1:8080/jwks' },
      ],
      'spec.jwt',
    ).map((i) => i.path),
  ).toEqual(['spec.jwt[0]', 'spec.jwt[1].jwks', 'spec.jwt[2].jwksUri']);
});

test('parseNodeConfig refuses a bad JWKS at its path, inbound and gateway; a good one seals', () => {
  const body = nodeBody({});
  const good = { issuer: 'https://issuer.example', jwks: jwks(rsa.publicKey.export({ format: 'jwk' })) };
  expect(sealNodeConfig({ ...body, inbound: { ...body.inbound, policy: { jwt: [good] } } }).inbound.policy.jwt).toHaveLength(1);
  const sealed = sealNodeConfig({
    ...body,
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: { listeners: [{ port: 8080, protocol: 'http' }], routes: [], policy: {} },
  });
  const bad = { issuer: 'https://issuer.example', jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' };
  expect(() => parseNodeConfig({ ...sealed, inbound: { ...sealed.inbound, policy: { ...sealed.inbound.policy, jwt: [bad] } }, gateway: { ...sealed.gateway!, policy: { ...sealed.gateway!.policy, jwt: [good, bad] } } })).toThrow(
    expect.objectContaining({
      code: 'WEFT_ERR_NODE_CONFIG_INVALID',
      issues: [
        { path: 'inbound.policy.jwt[0].jwks', message: expect.stringMatching(/^keys\[0\] kty must be RSA, EC or OKP/) },
        { path: 'gateway.policy.jwt[1].jwks', message: expect.stringMatching(/^keys\[0\] kty must be RSA, EC or OKP/) },
      ],
    }),
  );
});
