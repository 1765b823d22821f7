/** The image runs the sidecar as proxy/sidecar-runtime.ts says, which is how the bench runs it. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIDECAR_ENV, SIDECAR_NODE_FLAGS, SIDECAR_NODE_MAJOR } from '../../proxy/sidecar-runtime';
import { compileFullRegex } from '../../proxy/routing/conditions';

const dockerfile = readFileSync(join(__dirname, '../../proxy/Dockerfile'), 'utf8');

test('both image stages use the Node major of the runtime module', () => {
  const froms = [...dockerfile.matchAll(/^FROM node:(\d+)(-slim)?\b/gm)].map((m) => Number(m[1]));
  expect(froms).toEqual([SIDECAR_NODE_MAJOR, SIDECAR_NODE_MAJOR]);
});

test('the entry point passes exactly the runtime module\'s flags', () => {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  expect(entry).not.toBeNull();
  expect(JSON.parse(entry![1])).toEqual(['node', ...SIDECAR_NODE_FLAGS, '/opt/weft/weft-proxy.js']);
});

test('the final stage sets the runtime module\'s environment', () => {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  for (const [name, value] of Object.entries(SIDECAR_ENV)) expect(finalStage).toMatch(new RegExp(`^ENV [\\s\\S]*\\b${name}=${value}\\b`, 'm'));
});

test('node accepts every flag (a misspelt V8 flag stops the image at start)', () => {
  const run = spawnSync(process.execPath, [...SIDECAR_NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});

test('a regex that backtracks catastrophically finishes under the runtime flags (V8 falls back to its linear-time engine)', () => {
  // Without the fallback, 40 characters against (a+)+ take longer than the age of the universe; the
  // child's timeout only keeps a regression from hanging the suite.
  const script = "process.stdout.write(String(/^(a+)+$/.test('a'.repeat(40) + '!')))";
  const run = spawnSync(process.execPath, [...SIDECAR_NODE_FLAGS, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(run.error).toBeUndefined();
  expect(run.stdout).toBe('false');
});

test('a route regex with a count above 16 also finishes: the route compiler splits the count so that the fallback applies', () => {
  // V8's linear-time engine takes no count above 16, and without it there is no fallback: as
  // written, this regex backtracked for 12 s on 29 letters and doubles with every letter more.
  const regex = compileFullRegex('([a-z]{1,64})+', 'route.match.path.regex', []);
  expect(regex).toBeDefined();
  const script = `process.stdout.write(String(new RegExp(${JSON.stringify(regex!.source)}).test('a'.repeat(40) + '!')))`;
  const run = spawnSync(process.execPath, [...SIDECAR_NODE_FLAGS, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(run.error).toBeUndefined();
  expect(run.stdout).toBe('false');
});
