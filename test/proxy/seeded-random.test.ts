/**
 * The sidecar's random source: the seeded generator, and WEFT_RANDOM_SEED / --random-seed on the
 * image's bundle (dist/weft-proxy.js, built by `npm run build`) as child processes. Sidecars given
 * the same seed choose the same weighted targets for the same requests, seen as the upstream that
 * answered each one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../../bench/ports';
import { randomSource, seededRandom } from '../../proxy/seeded-random';
import { agent, ConfigDir, eventually, get, httpRoute, nodeBody, startUpstream, staticCluster, type Upstream } from './harness';

describe('seededRandom', () => {
  test('the same seed gives the same sequence in [0, 1), another seed another one', () => {
    const draw = (seed: number): number[] => {
      const random = seededRandom(seed);
      return Array.from({ length: 1_000 }, () => random());
    };
    const a = draw(42);
    expect(draw(42)).toEqual(a);
    expect(draw(43)).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(a).size).toBe(a.length);
  });

  test('without a seed the source is Math.random', () => {
    expect(randomSource(undefined)).toBe(Math.random);
    expect(randomSource(0)).not.toBe(Math.random);
  });
});

describe('WEFT_RANDOM_SEED on sidecar processes', () => {
  const bundle = join(__dirname, '../../dist/weft-proxy.js');
  const children: ChildProcess[] = [];
  let v1: Upstream;
  let v2: Upstream;
  let config: ConfigDir;

  beforeAll(async () => {
    [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
    config = new ConfigDir();
    config.write(
      nodeBody({
        services: [{ name: 'orders.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'v1:8080': 1, 'v2:8080': 1 })] }] }],
        clusters: [staticCluster('v1:8080', [v1.port]), staticCluster('v2:8080', [v2.port])],
      }),
    );
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all([v1.close(), v2.close(), agent.close()]);
    config.remove();
  });

  /** Starts the bundle with the seed given as a flag or in the environment; resolves with its egress port. */
  async function sidecar(ports: number[], seed: { flag: string } | { env: string }): Promise<number> {
    const [egress, inbound, admin] = ports;
    const child = spawn(
      process.execPath,
      [bundle, 'proxy', '--config', config.path, '--egress-port', String(egress), '--inbound-port', String(inbound), '--admin-port', String(admin),
        '--listen-address', '127.0.0.1', '--metrics', 'none', ...('flag' in seed ? ['--random-seed', seed.flag] : [])],
      { env: { PATH: process.env.PATH, ...('env' in seed ? { WEFT_RANDOM_SEED: seed.env } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await eventually(() => output.includes('"sidecar_started"') || child.exitCode !== null, 'the sidecar to start');
    if (child.exitCode !== null) throw new Error(`the sidecar exited: ${output}`);
    return egress;
  }

  /** Which upstream answered each of 40 requests, sent one after another. */
  async function answers(port: number): Promise<string[]> {
    const names: string[] = [];
    for (let i = 0; i < 40; i++) names.push((await get(port, `/r${i}`, { host: 'orders.demo.local' })).json().name);
    return names;
  }

  test('two sidecars with the same seed send the same requests to the same weighted targets', async () => {
    expect(existsSync(bundle)).toBe(true); // `npm test` builds it first
    const ports = await freePorts(9);
    const [a, b, other] = await Promise.all([
      sidecar(ports.slice(0, 3), { flag: '1234' }),
      sidecar(ports.slice(3, 6), { env: '1234' }),
      sidecar(ports.slice(6, 9), { flag: '4321' }),
    ]);
    const first = await answers(a);
    // Both targets were drawn, so an equal sequence says something.
    expect(new Set(first)).toEqual(new Set(['v1', 'v2']));
    expect(await answers(b)).toEqual(first);
    expect(await answers(other)).not.toEqual(first);
  }, 30_000);
});
