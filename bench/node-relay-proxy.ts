/**
 * The Node byte relay (node-relay.ts) as a proxy under test: the floor under any Node mesh
 * sidecar, measured beside Weft. Its processes run dist/node-relay.js on the sidecars' runtime.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IdentityFiles } from './certs';
import { nodeBinProblem, startFloorChild } from './node-floor';
import type { RelayMode } from './node-relay';
import { waitForOk, type PathContext, type ProxyUnderTest } from './paths';
import { freePorts } from './ports';

/** `benchScript`: the bundled dist/bench.js, beside which the build puts dist/node-relay.js. */
export function nodeRelayProxy(benchScript: string, nodeBin: string, nodeFlags: readonly string[]): ProxyUnderTest {
  const relayScript = join(dirname(benchScript), 'node-relay.js');
  const start = (ctx: PathContext, name: string, mode: RelayMode, port: number, target: number, identity?: IdentityFiles) => {
    const tlsArgs = identity ? [identity.privateKey, identity.certificate, identity.trustBundle] : [];
    return startFloorChild(ctx, name, nodeBin, [...nodeFlags, relayScript, mode, String(port), String(target), ...tlsArgs], port);
  };
  return {
    family: 'node-relay',
    label: 'Node byte relay',
    unavailable: () =>
      benchScript.endsWith('.js') && existsSync(relayScript) ? nodeBinProblem(nodeBin) : 'runs from the bundled dist/bench.js, beside dist/node-relay.js (npm run build)',
    async oneHop(ctx) {
      const [port] = await freePorts(1);
      const child = await start(ctx, 'node-relay', 'plain', port, ctx.upstreamPort);
      const url = `http://127.0.0.1:${port}/`;
      await waitForOk(url, undefined);
      return { url, processes: [{ role: 'proxy', child }] };
    },
    async twoHopMtls(ctx) {
      const certs = ctx.certificates();
      const [outPort, inPort] = await freePorts(2);
      const inbound = await start(ctx, 'node-relay-inbound', 'inbound', inPort, ctx.upstreamPort, certs.get('server')!);
      const outbound = await start(ctx, 'node-relay-outbound', 'outbound', outPort, inPort, certs.get('client')!);
      const url = `http://127.0.0.1:${outPort}/`;
      await waitForOk(url, undefined);
      return { url, processes: [{ role: 'outbound', child: outbound }, { role: 'inbound', child: inbound }] };
    },
  };
}
