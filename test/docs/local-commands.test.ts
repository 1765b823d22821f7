/**
 * The `npx weft` commands the README and docs/ show, run as written: from the checkout, with only
 * `--out` moved to a scratch directory (so the test writes nothing into the checkout) and, for the
 * sidecar, the ports moved to free ones (so it does not collide with anything on 15000/15001/9901).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../bench/ports';
import { agent, eventually, get } from '../proxy/harness';

const root = join(__dirname, '../..');
const WEFT = join(root, 'dist/weft.js');

/** Every `npx weft ...` line of the ```sh blocks of a document, as argv after `weft`, comments dropped. */
function documentedCommands(doc: string): string[][] {
  const text = readFileSync(join(root, doc), 'utf8');
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks
    .flatMap((b) => b.split('\n'))
    .map((line) => line.replace(/#.*$/, '').replace(/^npm install && /, '').trim())
    .filter((line) => line.startsWith('npx weft '))
    .map((line) => line.split(/\s+/).slice(2));
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'weft-doc-commands-'));
});
afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await agent.close();
});

/** `args` with the value of `flag` passed through `map`. */
const mapFlag = (args: string[], flag: string, map: (value: string) => string) => args.map((a, i) => (args[i - 1] === flag ? map(a) : a));
const moveOut = (value: string) => join(scratch, value);

const validateAndCompile = ['README.md', 'docs/model.md', 'docs/sidecar.md'].flatMap((doc) =>
  documentedCommands(doc)
    .filter(([command]) => command === 'validate' || command === 'compile')
    .map((args) => [doc, args.join(' '), args] as const),
);

test('the README and docs show validate and compile commands', () => {
  expect(validateAndCompile.map(([doc]) => doc)).toEqual(expect.arrayContaining(['README.md', 'docs/model.md', 'docs/sidecar.md']));
});

test.each(validateAndCompile)('%s: weft %s exits 0', (_doc, _line, args) => {
  const r = spawnSync(process.execPath, [WEFT, ...mapFlag(args, '--out', moveOut)], { cwd: root, encoding: 'utf8' });
  expect(r.stderr.split('\n').filter((l) => / error|^weft: /.test(l))).toEqual([]);
  expect(r.status).toBe(0);
});

test('docs/sidecar.md: the sidecar runs on the config compiled just before it, with every cluster fed from the sample endpoints file', async () => {
  const commands = documentedCommands('docs/sidecar.md');
  expect(commands.map(([c]) => c)).toEqual(['compile', 'proxy']);
  const [compile, proxy] = commands;
  expect(spawnSync(process.execPath, [WEFT, ...mapFlag(compile, '--out', moveOut)], { cwd: root }).status).toBe(0);

  const [inbound, egress, admin] = await freePorts(3);
  const args = [
    ...mapFlag(proxy, '--config', moveOut),
    ...['--inbound-port', String(inbound), '--egress-port', String(egress), '--admin-port', String(admin), '--listen-address', '127.0.0.1'],
  ];
  const child = spawn(process.execPath, [WEFT, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = false;
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  try {
    await eventually(() => output.includes('"sidecar_started"') || exited, 'the documented sidecar to start');
    expect(output).toContain('"sidecar_started"');
    expect(output).not.toContain('endpoints_file_rejected');
    const clusters = (await get(admin, '/clusters')).json() as unknown as { clusters: { name: string; endpoints: { address: string; port: number }[] }[] };
    expect(clusters.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)])).toEqual([
      ['order-service-v1:8080', ['127.0.0.1:8081']],
      ['order-service-v2:8080', ['127.0.0.1:8082']],
    ]);
  } finally {
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  }
});
