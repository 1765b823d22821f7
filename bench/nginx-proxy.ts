/** nginx as the reference proxy: the same topology as Weft's paths, with nginx at every hop. */
import { execFileSync } from 'node:child_process';
import { freePorts } from './ports';
import { mtlsInboundConf, mtlsOutboundConf, oneHopConf } from './nginx-conf';
import { startNginx, waitForOk, type ProxyUnderTest } from './paths';

export const nginxProxy: ProxyUnderTest = {
  family: 'nginx',
  label: 'nginx',
  unavailable: () => (commandWorks('nginx', ['-v']) ? undefined : 'nginx is not installed'),
  async oneHop(ctx) {
    const [port] = await freePorts(1);
    const child = await startNginx(ctx, 'nginx-1hop', oneHopConf(`${ctx.dir}/nginx-1hop`, port, ctx.upstreamPort), port);
    const url = `http://127.0.0.1:${port}/`;
    await waitForOk(url, undefined);
    return { url, processes: [{ role: 'proxy', child }] };
  },
  async twoHopMtls(ctx) {
    const certs = ctx.certificates();
    const client = certs.get('client')!;
    const server = certs.get('server')!;
    const [outPort, inPort] = await freePorts(2);
    const inbound = await startNginx(ctx, 'nginx-inbound', mtlsInboundConf(`${ctx.dir}/nginx-inbound`, inPort, ctx.upstreamPort, server), inPort);
    const outbound = await startNginx(ctx, 'nginx-outbound', mtlsOutboundConf(`${ctx.dir}/nginx-outbound`, outPort, inPort, client, server), outPort);
    const url = `http://127.0.0.1:${outPort}/`;
    await waitForOk(url, undefined);
    return { url, processes: [{ role: 'outbound', child: outbound }, { role: 'inbound', child: inbound }] };
  },
};

/** True if `cmd args` runs and exits 0 within 10 s. */
export function commandWorks(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
