/**
 * Authorization as Istio evaluates it, on requests built in place: the evaluation order, each rule
 * form, values a request lacks (no JWT), a valid JWT's request.auth attributes, and HTTP-only
 * fields on TCP connections.
 * test/proxy/policy/authz-sidecar.test.ts runs the same policies through real sidecars.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { AuthzPolicySchema, type AuthzPolicy } from '../../../proxy/contracts/node-config';
import { AuthorizationCheck, RBAC_DENIED } from '../../../proxy/policy/authz';
import type { PolicyRequest, RequestAuth } from '../../../proxy/policy/policy';

const ORDERS = 'spiffe://weft.local/ns/shop/sa/orders';
const PAY = 'spiffe://weft.local/ns/shop/sa/payments';

type Input = z.input<typeof AuthzPolicySchema>;

function check(...policies: Input[]): AuthorizationCheck {
  return new AuthorizationCheck(policies.map((p) => AuthzPolicySchema.parse(p) as AuthzPolicy));
}

interface Req {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  principal?: string;
  address?: string;
  port?: number;
  tcp?: boolean;
  sni?: string;
  /** What the JWT check sets for a valid token. */
  auth?: RequestAuth;
}

function request(r: Req): PolicyRequest {
  const req = { method: r.method ?? 'GET', headers: { host: r.host ?? 'orders.shop', ...r.headers }, socket: {} } as unknown as IncomingMessage;
  return {
    listener: 'inbound',
    peer: { authenticated: r.principal !== undefined, principal: r.principal, encrypted: r.principal !== undefined },
    peerAddress: r.address ?? '10.0.0.5',
    port: r.port ?? 8080,
    http: r.tcp ? undefined : { req, path: r.path ?? '/' },
    sni: r.sni,
    auth: r.auth,
  };
}

const allowed = (c: AuthorizationCheck, r: Req) => c.check(request(r)) === undefined;

describe('evaluation order', () => {
  test('no ALLOW policy: allowed unless a DENY matches', () => {
    const c = check({ name: 'd', action: 'DENY', rules: [{ to: [{ methods: ['DELETE'] }] }] });
    expect(allowed(c, { method: 'GET' })).toBe(true);
    expect(c.check(request({ method: 'DELETE' }))).toEqual({ status: 403, code: RBAC_DENIED });
  });
  test('DENY wins over a matching ALLOW', () => {
    const c = check({ name: 'a', rules: [{}] }, { name: 'd', action: 'DENY', rules: [{ to: [{ paths: ['/admin'] }] }] });
    expect(allowed(c, { path: '/x' })).toBe(true);
    expect(allowed(c, { path: '/admin' })).toBe(false);
  });
  test('ALLOW policies exist: a request must match one of them', () => {
    const c = check({ name: 'a', rules: [{ to: [{ paths: ['/a'] }] }] }, { name: 'b', rules: [{ to: [{ paths: ['/b'] }] }] });
    expect(allowed(c, { path: '/a' })).toBe(true);
    expect(allowed(c, { path: '/b' })).toBe(true);
    expect(allowed(c, { path: '/c' })).toBe(false);
  });
  test('an ALLOW policy without rules allows nothing; rules: [{}] allows everything', () => {
    expect(allowed(check({ name: 'none' }), { path: '/' })).toBe(false);
    expect(allowed(check({ name: 'all', rules: [{}] }), { path: '/' })).toBe(true);
  });
  test('AUDIT never changes the decision', () => {
    expect(allowed(check({ name: 'audit', action: 'AUDIT', rules: [{}] }), {})).toBe(true);
    expect(allowed(check({ name: 'audit', action: 'AUDIT', rules: [{}] }, { name: 'none' }), {})).toBe(false);
  });
});

describe('from', () => {
  test('principals in Istio form match the peer SPIFFE id; * patterns; plaintext has none', () => {
    const c = check({ name: 'a', rules: [{ from: [{ principals: ['weft.local/ns/shop/sa/orders', '*/sa/payments'] }] }] });
    expect(allowed(c, { principal: ORDERS })).toBe(true);
    expect(allowed(c, { principal: PAY })).toBe(true);
    expect(allowed(c, { principal: 'spiffe://weft.local/ns/shop/sa/other' })).toBe(false);
    expect(allowed(c, {})).toBe(false);
    const prefix = check({ name: 'a', rules: [{ from: [{ principals: ['weft.local/ns/shop/*'] }] }] });
    expect(allowed(prefix, { principal: ORDERS })).toBe(true);
    expect(allowed(prefix, { principal: 'spiffe://other/ns/shop/sa/orders' })).toBe(false);
  });
  test('DENY notPrincipals: ["*"] refuses plaintext (Istio)', () => {
    const c = check({ name: 'd', action: 'DENY', rules: [{ from: [{ notPrincipals: ['*'] }] }] });
    expect(allowed(c, {})).toBe(false);
    expect(allowed(c, { principal: ORDERS })).toBe(true);
  });
  test('namespaces come from the principal', () => {
    const c = check({ name: 'a', rules: [{ from: [{ namespaces: ['shop'] }] }] });
    expect(allowed(c, { principal: ORDERS })).toBe(true);
    expect(allowed(c, { principal: 'spiffe://weft.local/ns/other/sa/orders' })).toBe(false);
    expect(allowed(check({ name: 'd', action: 'DENY', rules: [{ from: [{ notNamespaces: ['shop'] }] }] }), {})).toBe(false);
  });
  test('no JWT: requestPrincipals never match, notRequestPrincipals always do', () => {
    expect(allowed(check({ name: 'a', rules: [{ from: [{ requestPrincipals: ['*'] }] }] }), {})).toBe(false);
    expect(allowed(check({ name: 'd', action: 'DENY', rules: [{ from: [{ notRequestPrincipals: ['*'] }] }] }), {})).toBe(false);
  });
  test('ipBlocks and notIpBlocks on the peer address (v4, v4-mapped, v6)', () => {
    const c = check({ name: 'a', rules: [{ from: [{ ipBlocks: ['10.0.0.0/16', '2001:db8::/32'], notIpBlocks: ['10.0.9.0/24'] }] }] });
    expect(allowed(c, { address: '10.0.1.1' })).toBe(true);
    expect(allowed(c, { address: '::ffff:10.0.1.1' })).toBe(true);
    expect(allowed(c, { address: '2001:db8::7' })).toBe(true);
    expect(allowed(c, { address: '10.0.9.1' })).toBe(false);
    expect(allowed(c, { address: '10.1.0.1' })).toBe(false);
  });
  test('sources are any-of; fields of one source are all-of', () => {
    const c = check({ name: 'a', rules: [{ from: [{ principals: [ORDERS.slice(9)], ipBlocks: ['10.0.0.0/8'] }, { ipBlocks: ['192.168.0.0/16'] }] }] });
    expect(allowed(c, { principal: ORDERS, address: '10.1.1.1' })).toBe(true);
    expect(allowed(c, { principal: ORDERS, address: '172.16.0.1' })).toBe(false);
    expect(allowed(c, { address: '192.168.3.3' })).toBe(true);
  });
});

describe('to', () => {
  test('methods, paths (exact, prefix, suffix, *), ports, hosts (case-insensitive, port ignored)', () => {
    const c = check({
      name: 'a',
      rules: [{ to: [{ methods: ['GET'], paths: ['/exact', '/pre/*', '*.json'], ports: [8080], hosts: ['*.shop', 'API.example.com'] }] }],
    });
    expect(allowed(c, { path: '/exact' })).toBe(true);
    expect(allowed(c, { path: '/pre/x' })).toBe(true);
    expect(allowed(c, { path: '/data/x.json?q=1' })).toBe(true);
    expect(allowed(c, { path: '/other' })).toBe(false);
    expect(allowed(c, { path: '/exact', method: 'POST' })).toBe(false);
    expect(allowed(c, { path: '/exact', port: 9090 })).toBe(false);
    expect(allowed(c, { path: '/exact', host: 'ORDERS.Shop:8080' })).toBe(true);
    expect(allowed(c, { path: '/exact', host: 'api.example.com' })).toBe(true);
    expect(allowed(c, { path: '/exact', host: 'evil.com' })).toBe(false);
    expect(allowed(check({ name: 'a', rules: [{ to: [{ paths: ['*'] }] }] }), { path: '/anything' })).toBe(true);
  });
  test('not fields exclude', () => {
    const c = check({ name: 'a', rules: [{ to: [{ notMethods: ['DELETE'], notPaths: ['/admin/*'], notPorts: [9000], notHosts: ['internal.*'] }] }] });
    expect(allowed(c, { path: '/x' })).toBe(true);
    expect(allowed(c, { path: '/x', method: 'DELETE' })).toBe(false);
    expect(allowed(c, { path: '/admin/a' })).toBe(false);
    expect(allowed(c, { path: '/x', port: 9000 })).toBe(false);
    expect(allowed(c, { path: '/x', host: 'Internal.shop' })).toBe(false);
  });
});

describe('when', () => {
  test('request headers, source.ip, source.principal, destination.port, connection.sni', () => {
    const c = check({
      name: 'a',
      rules: [
        {
          when: [
            { key: 'request.headers[X-Tenant]', values: ['acme-*'] },
            { key: 'source.ip', values: ['10.0.0.0/8'] },
            { key: 'source.principal', notValues: ['*/sa/payments'] },
            { key: 'destination.port', values: ['8080'] },
          ],
        },
      ],
    });
    expect(allowed(c, { headers: { 'x-tenant': 'acme-eu' }, principal: ORDERS })).toBe(true);
    expect(allowed(c, { headers: { 'x-tenant': 'other' }, principal: ORDERS })).toBe(false);
    expect(allowed(c, { headers: { 'x-tenant': 'acme-eu' }, principal: PAY })).toBe(false);
    expect(allowed(c, { headers: { 'x-tenant': 'acme-eu' }, address: '172.16.0.1' })).toBe(false);
    expect(allowed(c, { headers: { 'x-tenant': 'acme-eu' }, port: 9090 })).toBe(false);
    const sni = check({ name: 'a', rules: [{ when: [{ key: 'connection.sni', values: ['*.shop'] }] }] });
    expect(allowed(sni, { tcp: true, sni: 'orders.shop' })).toBe(true);
    expect(allowed(sni, { tcp: true })).toBe(false);
  });
  test('no JWT: claims never match under ALLOW, and their notValues always match', () => {
    expect(allowed(check({ name: 'a', rules: [{ when: [{ key: 'request.auth.claims[iss]', values: ['*'] }] }] }), {})).toBe(false);
    expect(allowed(check({ name: 'd', action: 'DENY', rules: [{ when: [{ key: 'request.auth.claims[groups]', notValues: ['admin'] }] }] }), {})).toBe(false);
  });
  const ALICE: RequestAuth = {
    principal: 'https://issuer.example/alice',
    audiences: ['orders', 'payments'],
    presenter: 'web-app',
    claims: { iss: 'https://issuer.example', sub: 'alice', groups: ['dev', 'admin'], org: { team: { name: 'shop' } }, level: 3 },
  };
  test('a valid JWT: requestPrincipals match <iss>/<sub>; notRequestPrincipals negate', () => {
    const c = check({ name: 'a', rules: [{ from: [{ requestPrincipals: ['https://issuer.example/*'] }] }] });
    expect(allowed(c, { auth: ALICE })).toBe(true);
    expect(allowed(c, { auth: { ...ALICE, principal: 'https://other.example/alice' } })).toBe(false);
    expect(allowed(c, {})).toBe(false);
    expect(allowed(check({ name: 'any', rules: [{ from: [{ requestPrincipals: ['*'] }] }] }), { auth: ALICE })).toBe(true);
    const deny = check({ name: 'd', action: 'DENY', rules: [{ from: [{ notRequestPrincipals: ['*'] }] }] });
    expect([allowed(deny, { auth: ALICE }), allowed(deny, {})]).toEqual([true, false]);
  });
  test('a valid JWT: request.auth.principal, audiences (any of), presenter', () => {
    const when = (key: string, values: string[]) => check({ name: 'a', rules: [{ when: [{ key, values }] }] });
    expect(allowed(when('request.auth.principal', ['https://issuer.example/alice']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.audiences', ['payments']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.audiences', ['billing']), { auth: ALICE })).toBe(false);
    expect(allowed(when('request.auth.presenter', ['web-*']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.presenter', ['web-*']), { auth: { ...ALICE, presenter: undefined } })).toBe(false);
  });
  test('a valid JWT: request.auth.claims[...] matches a string, any string of a list, and nests with [a][b]', () => {
    const when = (key: string, values: string[]) => check({ name: 'a', rules: [{ when: [{ key, values }] }] });
    expect(allowed(when('request.auth.claims[sub]', ['alice']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.claims[groups]', ['admin']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.claims[groups]', ['ops']), { auth: ALICE })).toBe(false);
    expect(allowed(when('request.auth.claims[org][team][name]', ['shop']), { auth: ALICE })).toBe(true);
    expect(allowed(when('request.auth.claims[org][team]', ['*']), { auth: ALICE })).toBe(false);
    expect(allowed(when('request.auth.claims[level]', ['3']), { auth: ALICE })).toBe(false);
    const deny = check({ name: 'd', action: 'DENY', rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['admin'] }] }] });
    expect([allowed(deny, { auth: ALICE }), allowed(deny, { auth: { ...ALICE, claims: { groups: ['dev'] } } })]).toEqual([false, true]);
  });
});

describe('TCP connections (no HTTP fields)', () => {
  test('L4 fields apply', () => {
    const c = check({ name: 'a', rules: [{ from: [{ principals: [ORDERS.slice(9)] }], to: [{ ports: [9000] }] }] });
    expect(allowed(c, { tcp: true, principal: ORDERS, port: 9000 })).toBe(true);
    expect(allowed(c, { tcp: true, principal: PAY, port: 9000 })).toBe(false);
  });
  test('an ALLOW rule that needs HTTP fields never matches', () => {
    const c = check({ name: 'a', rules: [{ to: [{ methods: ['GET'] }] }] });
    expect(allowed(c, { tcp: true })).toBe(false);
    expect(allowed(c, {})).toBe(true);
  });
  test('a DENY rule drops its HTTP fields and matches on the rest (Istio: more is denied)', () => {
    const c = check({ name: 'd', action: 'DENY', rules: [{ from: [{ principals: [PAY.slice(9)] }], to: [{ methods: ['DELETE'] }] }] });
    expect(allowed(c, { tcp: true, principal: PAY })).toBe(false);
    expect(allowed(c, { tcp: true, principal: ORDERS })).toBe(true);
    expect(allowed(c, { principal: PAY, method: 'GET' })).toBe(true);
  });
});

test('paths are judged canonical: encodings, merged slashes, parameters, query cannot bypass a DENY', () => {
  const c = check({ name: 'd', action: 'DENY', rules: [{ to: [{ paths: ['/admin', '/admin/*'] }] }] });
  for (const p of ['/admin', '/admin%2Fusers', '/admin%2fusers', '//admin', '/admin;x', '/admin?q', '/%61dmin', '/admin%5Cusers', '/public/%2e%2e%2Fadmin']) {
    expect([p, allowed(c, { path: p })]).toEqual([p, false]);
  }
  expect(allowed(c, { path: '/public' })).toBe(true);
});
