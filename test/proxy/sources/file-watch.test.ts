import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileConfigSource } from '../../../proxy/sources/config-source';
import { watchFile } from '../../../proxy/sources/file-watch';
import { eventually } from '../harness';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-watch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a file replaced by rename is noticed', async () => {
  const path = join(dir, 'config.json');
  writeFileSync(path, 'v1');
  let changes = 0;
  const w = watchFile(path, () => changes++, 5);
  try {
    writeFileSync(join(dir, 'config.json.tmp'), 'v2');
    renameSync(join(dir, 'config.json.tmp'), path);
    await eventually(() => changes > 0, 'a change after the rename');
  } finally {
    w.close();
  }
});

test('a file published through a swapped ..data symlink (Kubernetes/ECS volume updaters) is noticed', async () => {
  // The AtomicWriter layout: config.json -> ..data/config.json, ..data -> ..<version>.
  mkdirSync(join(dir, '..v1'));
  writeFileSync(join(dir, '..v1', 'config.json'), 'v1');
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync(join('..data', 'config.json'), join(dir, 'config.json'));
  const path = join(dir, 'config.json');
  let changes = 0;
  const w = watchFile(path, () => changes++, 5);
  try {
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'config.json'), 'v2');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await eventually(() => changes > 0, 'a change after the ..data swap', 2_000);
    expect(await readFile(path, 'utf8')).toBe('v2');
  } finally {
    w.close();
  }
});

test('a config file that vanishes and comes back unchanged reports the error, then the recovery, and no change', async () => {
  const path = join(dir, 'node.json');
  writeFileSync(path, '{"v":1}');
  const source = new FileConfigSource(path);
  await source.read();
  const seen: string[] = [];
  source.watch(
    (text) => seen.push(`change ${text}`),
    (err) => seen.push(`error ${(err as Error & { code: string }).code}`),
    () => seen.push('recovered'),
  );
  try {
    unlinkSync(path);
    await eventually(() => seen.length > 0, 'the read error');
    writeFileSync(path, '{"v":1}');
    await eventually(() => seen.includes('recovered'), 'the recovery');
    expect(seen.filter((s) => s.startsWith('change'))).toEqual([]);
    expect(seen[0]).toBe('error WEFT_ERR_CONFIG_UNREADABLE');
  } finally {
    source.close();
  }
});

test('a watch whose directory is removed starts again when it is back, and reports the change it may have missed', async () => {
  const sub = join(dir, 'volume');
  mkdirSync(sub);
  const path = join(sub, 'endpoints.json');
  writeFileSync(path, 'v1');
  let changes = 0;
  const w = watchFile(path, () => changes++, 5);
  try {
    rmSync(sub, { recursive: true, force: true });
    // The file's removal is a change; the directory's removal loses the watch.
    await eventually(() => changes > 0 && !w.watching, 'the removal reported and the lost watch noticed');
    const lost = changes;
    mkdirSync(sub);
    writeFileSync(path, 'v2'); // while nothing watches
    await eventually(() => w.watching, 'the watch to start again once the directory is back', 5_000);
    await eventually(() => changes > lost, 'the change the lost watch may have missed', 5_000);
    // The new watch works: a later write is noticed too.
    const rearmed = changes;
    writeFileSync(path, 'v3');
    await eventually(() => changes > rearmed, 'a change seen by the new watch', 5_000);
  } finally {
    w.close();
  }
});
