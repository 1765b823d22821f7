/**
 * Micro-benchmark of the inbound policy step per request: the weft-authz path's 10-rule ALLOW
 * policy alone, and behind its JWT rule with the client's token remembered (the steady state:
 * synchronous, no crypto), in ns/op; and the first token after a config load (the JWKS key
 * imported, the token verified: jose, asynchronous WebCrypto). Each op builds its request (the JWT check removes the token
 * header), so "request only" is the floor to subtract. Not a test: numbers depend on the machine. Run:
 *
 *   npx esbuild bench/micro/policy.ts --bundle --platform=node --outfile=/tmp/bench-policy.js && node /tmp/bench-policy.js
 */
import type { IncomingMessage } from 'node:http';
import { spiffeId } from '../../proxy/contracts';
import { compilePolicies, type PolicyRequest } from '../../proxy/policy/policy';
import { JwksRegistry } from '../../proxy/policy/jwks';
import { JwtCheck } from '../../proxy/policy/jwt';
import { silentLogger } from '../../proxy/log';
import { BENCH_MESH, BENCH_TRUST_DOMAIN } from '../certs';
import { benchJwt, inboundNodeConfig } from '../weft-configs';
import { measure, type MicroResult } from './measure';

const CLIENT = spiffeId(BENCH_TRUST_DOMAIN, BENCH_MESH, 'client');

function request(authorization: string | undefined): PolicyRequest {
  const headers: Record<string, string> = { host: 'app.bench.local', 'user-agent': 'wrk', 'x-request-id': 'r' };
  if (authorization !== undefined) headers.authorization = authorization;
  const req = { method: 'GET', headers, socket: {} } as unknown as IncomingMessage;
  return { listener: 'inbound', peer: { authenticated: true, principal: CLIENT, encrypted: true }, peerAddress: '127.0.0.1', port: 8080, http: { req, path: '/' } };
}

export async function runPolicyMicroBench(iterations = 200_000): Promise<MicroResult[]> {
  const config = inboundNodeConfig('server', 8080, { authz: true });
  const withJwt = compilePolicies(config, []).inbound;
  const authzOnly = compilePolicies({ ...config, inbound: { ...config.inbound, policy: { ...config.inbound.policy, jwt: [] } } }, []).inbound;
  const bearer = `Bearer ${benchJwt().token}`;
  // The first request verifies and remembers the token.
  if ((await withJwt.evaluate(request(bearer))) !== undefined) throw new Error('the bench token is refused');
  const results = [
    measure('request only (the floor)', iterations, () => request(bearer)),
    measure('authorization, 10 rules (last matches)', iterations, () => authzOnly.evaluate(request(undefined))),
    measure('JWT (token remembered) + authorization', iterations, () => withJwt.evaluate(request(bearer))),
  ];
  // A fresh check each round (as after a config load): nothing imported, nothing remembered.
  const rounds = 200;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    const check = new JwtCheck(config.inbound.policy.jwt, new JwksRegistry(undefined, silentLogger));
    if ((await check.check(request(bearer))) !== undefined) throw new Error('the bench token is refused');
  }
  results.push({ name: 'JWT first token after a config load (JWKS key import + RS256 verify, async)', nsPerOp: Math.round(Number(process.hrtime.bigint() - start) / rounds) });
  return results;
}

if (require.main === module) {
  void runPolicyMicroBench().then((results) => {
    console.log(`node ${process.version}`);
    for (const r of results) console.log(`${r.nsPerOp.toFixed(1).padStart(10)} ns/op  ${r.name}`);
  });
}
