/**
 * JWT through real sidecars: the built bundle in child processes (as the image runs it), a local
 * JWKS server it fetches keys from, tokens signed with jose, requests on real sockets to the
 * inbound listener, and an app that counts what reaches it. An ALLOW policy that needs a request
 * principal sits behind the JWT rule, as Istio's RequestAuthentication + AuthorizationPolicy pair.
 * A gateway and a gRPC listener (in-process sidecars) enforce their rules with an inline JWKS.
 */
import { createServer, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { freePorts } from '../../../bench/ports';
import { eventually, get, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running, type Upstream } from '../harness';
import { Echo, startGrpcServer, type EchoClient, type Reply } from '../grpc/echo-service';
import { startSidecarProcess, type SidecarProcess } from '../hardening/sidecar-process';
import { ecKey, expiredClaims, hsWithPublicKey, ISSUER, jwksOf, rsaKey, sign, tampered, unsigned, type SigningKey } from './jwt-tokens';

const A = rsaKey('key-a');
const B = rsaKey('key-b');
const C = ecKey('key-c');

/** A JWKS endpoint that serves `keys` and counts its fetches. */
interface JwksServer {
  url: string;
  keys: SigningKey[];
  fetches: number;
  close(): Promise<void>;
}

async function startJwks(keys: SigningKey[]): Promise<JwksServer> {
  const jwks = { keys, fetches: 0 } as JwksServer;
  const server: Server = createServer((_req, res) => {
    jwks.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(jwksOf(...jwks.keys));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwks.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  jwks.close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  return jwks;
}

/** The node's JWT rule (fetched JWKS, one audience, the subject copied to a header) and a policy that needs a principal. */
function orders(jwksUri: string): ConfigBody {
  const body = nodeBody({ name: 'orders' });
  return {
    ...body,
    inbound: {
      ...body.inbound,
      policy: {
        jwt: [{ issuer: ISSUER, jwksUri, audiences: ['orders'], outputClaimToHeaders: [{ header: 'x-jwt-sub', claim: 'sub' }] }],
        authorization: [
          {
            name: 'need-a-principal',
            rules: [
              { from: [{ requestPrincipals: ['*'] }], to: [{ paths: ['/api/*'] }] },
              { from: [{ requestPrincipals: [`${ISSUER}/alice`] }], to: [{ paths: ['/alice-only'] }] },
            ],
          },
        ],
      },
    },
  };
}

let app: Upstream;
let jwks: JwksServer;
let sidecar: SidecarProcess;

beforeAll(async () => {
  app = await startUpstream('orders');
  jwks = await startJwks([A]);
  const [metricsPort] = await freePorts(1);
  sidecar = await startSidecarProcess(orders(jwks.url), ['--app-ports', String(app.port), '--metrics', 'prometheus', '--metrics-port', String(metricsPort)]);
}, 30_000);

afterAll(async () => {
  await sidecar?.stop();
  await Promise.all([app.close(), jwks.close()]);
});

const call = (path: string, token?: string, port = sidecar.ports.inbound) => get(port, path, token === undefined ? { host: 'orders.demo.local' } : { host: 'orders.demo.local', authorization: `Bearer ${token}` });
const reached = (path: string) => app.seen.filter((r) => r.url === path).length;

test('a valid token reaches the app with its principal: the JWKS is fetched on first use, the token header stripped, the claim header set', async () => {
  const res = await call('/api/orders/1', await sign(A, { aud: 'orders' }));
  expect(res.status).toBe(200);
  const seen = app.seen.find((r) => r.url === '/api/orders/1')!;
  expect(seen.headers.authorization).toBeUndefined();
  expect(seen.headers['x-jwt-sub']).toBe('alice');
  expect(jwks.fetches).toBe(1);
});

test('the principal is what the ALLOW rule matches: alice passes /alice-only, bob does not', async () => {
  expect((await call('/alice-only', await sign(A, { aud: 'orders' }))).status).toBe(200);
  const bob = await call('/alice-only', await sign(A, { aud: 'orders', sub: 'bob' }));
  expect([bob.status, bob.headers['x-weft-error']]).toEqual([403, 'WEFT_ERR_RBAC_DENIED']);
  expect(reached('/alice-only')).toBe(1);
});

test('no token: the request goes on without a principal, and the ALLOW rule that needs one denies it (403)', async () => {
  const res = await call('/api/anonymous');
  expect([res.status, res.headers['x-weft-error']]).toEqual([403, 'WEFT_ERR_RBAC_DENIED']);
  expect(reached('/api/anonymous')).toBe(0);
});

test('a forged claim header from the caller never reaches the app', async () => {
  const res = await get(sidecar.ports.inbound, '/api/forged', { host: 'orders.demo.local', authorization: `Bearer ${await sign(A, { aud: 'orders', sub: 'carol' })}`, 'x-jwt-sub': 'admin' });
  expect(res.status).toBe(200);
  expect(app.seen.find((r) => r.url === '/api/forged')!.headers['x-jwt-sub']).toBe('carol');
});

test.each<[string, () => Promise<string> | string]>([
  ['expired', () => sign(A, { aud: 'orders', ...expiredClaims() })],
  ['wrong issuer', () => sign(A, { aud: 'orders', iss: 'https://evil.example' })],
  ['wrong audience', () => sign(A, { aud: 'billing' })],
  ['bad signature', () => tampered(A)],
  ['alg none', () => unsigned('key-a')],
  ['HS256 signed with the RSA public key', () => hsWithPublicKey(A)],
  ['malformed', () => 'a.b.c'],
])('%s: 401 with Bearer error="invalid_token", and the app never sees it', async (what, token) => {
  const path = `/api/invalid/${what.replace(/\W+/g, '-')}`;
  const res = await call(path, await token());
  expect(res.status).toBe(401);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_JWT_INVALID');
  expect(res.headers['www-authenticate']).toBe(`Bearer realm="http://orders.demo.local${path}", error="invalid_token"`);
  expect(reached(path)).toBe(0);
});

test('once keys are held, requests do not fetch: twenty new tokens, no fetch', async () => {
  const before = jwks.fetches;
  for (let i = 0; i < 20; i++) expect((await call(`/api/many/${i}`, await sign(A, { aud: 'orders', sub: `user-${i}` }))).status).toBe(200);
  expect(jwks.fetches).toBe(before);
});

test('a key rotated in at the issuer (new kid) is picked up by one refresh', async () => {
  jwks.keys = [A, B];
  const before = jwks.fetches;
  const res = await call('/api/rotated', await sign(B, { aud: 'orders' }));
  expect(res.status).toBe(200);
  expect(jwks.fetches).toBe(before + 1);
});

test('JWT refusals count as policy denials (weft_policy_denials_total)', async () => {
  const metrics = await get(sidecar.ports.admin, '/stats/prometheus');
  const denials = Number(/^weft_policy_denials_total (\d+)$/m.exec(metrics.text)?.[1]);
  // The 7 refused tokens and the 2 authorization denials above (bob, anonymous): tests run in file order.
  expect(denials).toBe(9);
});

describe('JWKS unreachable', () => {
  let down: JwksServer;
  let second: SidecarProcess;

  beforeAll(async () => {
    down = await startJwks([A]);
    second = await startSidecarProcess(orders(down.url), ['--app-ports', String(app.port)]);
  }, 30_000);
  afterAll(() => second?.stop());

  test('held keys still verify; a token of an unknown kid is refused after the refresh fails', async () => {
    expect((await call('/api/before-down', await sign(A, { aud: 'orders' }), second.ports.inbound)).status).toBe(200);
    await down.close();
    expect((await call('/api/while-down', await sign(A, { aud: 'orders', sub: 'dave' }), second.ports.inbound)).status).toBe(200);
    const unknown = await call('/api/unknown-kid', await sign(C, { aud: 'orders' }), second.ports.inbound);
    expect([unknown.status, unknown.headers['x-weft-error']]).toEqual([401, 'WEFT_ERR_JWT_INVALID']);
    expect(reached('/api/unknown-kid')).toBe(0);
    await eventually(() => second.events().some((e) => e.event === 'jwks_fetch_failed'), 'the failed refresh to be logged');
    expect(second.events().filter((e) => e.event === 'jwks_fetch_failed')).toEqual([expect.objectContaining({ level: 'warn', uri: down.url, keysHeld: true })]);
  });
});

describe('gateway', () => {
  let upstream: Upstream;
  let gateway: Running;

  beforeAll(async () => {
    upstream = await startUpstream('orders');
    const base = nodeBody({
      services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [{ protocol: 'http', name: 'orders/r', priority: 0, match: { path: { prefix: '/' } }, action: { weightedTargets: [{ cluster: 'orders:8080', weight: 1 }] }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout: TIMEOUT }] }] }],
      clusters: [staticCluster('orders:8080', [upstream.port])],
    });
    gateway = await startWith(
      {
        ...base,
        node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
        inbound: { listeners: [], policy: {} },
        gateway: {
          listeners: [{ port: 8080, protocol: 'http' }],
          routes: [{ name: 'edge/r', priority: 0, protocol: 'http', match: { path: { prefix: '/' }, port: 8080 }, target: { virtualService: 'orders.demo.local' }, rewrite: {} }],
          policy: { jwt: [{ issuer: ISSUER, jwks: jwksOf(C), forwardOriginalToken: true }] },
        },
      },
      {},
      { bindGatewayPort: () => 0 },
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  test('the gateway refuses an invalid token with 401 and forwards a valid one, the token kept (forwardOriginalToken)', async () => {
    const port = gateway.handle.ports.gateway[8080];
    const token = await sign(C);
    const ok = await call('/shop', token, port);
    expect(ok.status).toBe(200);
    expect(upstream.seen.find((r) => r.url === '/shop')!.headers.authorization).toBe(`Bearer ${token}`);
    const bad = await call('/shop-bad', await sign(A), port);
    expect([bad.status, bad.headers['x-weft-error']]).toEqual([401, 'WEFT_ERR_JWT_INVALID']);
    expect(upstream.seen.some((r) => r.url === '/shop-bad')).toBe(false);
    expect((await call('/anonymous', undefined, port)).status).toBe(200);
  });
});

describe('gRPC', () => {
  let server: { server: grpc.Server; port: number };
  let node: Running;
  let echo: EchoClient;
  /** Inbound records of requests forwarded to the app (no flag). */
  let served = 0;

  beforeAll(async () => {
    server = await startGrpcServer('grpc-orders');
    const body = nodeBody({ name: 'grpc-orders', inbound: [{ port: 8080, protocol: 'grpc', timeout: TIMEOUT }] });
    node = await startWith({ ...body, inbound: { ...body.inbound, policy: { jwt: [{ issuer: ISSUER, jwks: jwksOf(C) }] } } }, { appPorts: [String(server.port)] }, {
      onRecord: (r) => {
        if (r.listener === 'inbound' && r.flags === '-') served++;
      },
    });
    echo = new Echo(`127.0.0.1:${node.handle.ports.inbound!}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc-orders.demo.local:8080' }) as unknown as EchoClient;
  });
  afterAll(async () => {
    echo?.close();
    await node?.close();
    server?.server.forceShutdown();
  });

  const say = (token: string) =>
    new Promise<{ err: grpc.ServiceError | null; res?: Reply }>((resolve) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      echo.Say({ message: 'hi' }, md, { deadline: Date.now() + 10_000 }, (err, res) => resolve({ err, res }));
    });

  test('an invalid token is answered UNAUTHENTICATED; a valid one is served', async () => {
    const bad = await say(await sign(A));
    expect(bad.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bad.err?.metadata.get('x-weft-error')).toEqual(['WEFT_ERR_JWT_INVALID']);
    expect(served).toBe(0);
    const ok = await say(await sign(C));
    expect(ok.err).toBeNull();
    expect(ok.res?.server).toBe('grpc-orders');
  });
});
