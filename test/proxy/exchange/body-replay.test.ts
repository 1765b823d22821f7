/**
 * The replayable body: every reader gets the whole body from its first byte, whether it starts
 * before, during or after the client's upload, and the bound is where replay stops.
 */
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { BodyReplay } from '../../../proxy/exchange/body-replay';

async function readAll(r: Readable): Promise<string> {
  let text = '';
  for await (const chunk of r) text += (chunk as Buffer).toString();
  return text;
}

test('readers made before, during and after the upload all read the whole body', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 1024);
  const early = replay.reader()!;
  const earlyText = readAll(early);
  source.write('one,');
  source.write('two,');
  await new Promise((r) => setImmediate(r));
  const middle = replay.reader()!;
  const middleText = readAll(middle);
  source.end('three');
  expect(await earlyText).toBe('one,two,three');
  expect(await middleText).toBe('one,two,three');
  expect(await readAll(replay.reader()!)).toBe('one,two,three');
  expect(replay.bytes).toBe(13);
});

test('a reader that is not read does not hold back the others beyond its buffer, and still reads it all later', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 1 << 20);
  const idle = replay.reader()!;
  const busy = replay.reader()!;
  const busyText = readAll(busy);
  const part = 'x'.repeat(10_000);
  for (let i = 0; i < 10; i++) source.write(part);
  source.end();
  expect((await busyText).length).toBe(100_000);
  expect((await readAll(idle)).length).toBe(100_000);
});

test('past the limit, a reader that kept up finishes, and no new reader can be made', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 8);
  const first = replay.reader()!;
  const text = readAll(first);
  source.write('12345');
  await new Promise((r) => setImmediate(r));
  source.end('67890');
  expect(await text).toBe('1234567890');
  expect(replay.reader()).toBeUndefined();
});

test('past the limit, a reader that fell behind fails rather than reading a body with a hole', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 8);
  const first = replay.reader()!;
  const firstText = readAll(first);
  source.write('12345');
  await new Promise((r) => setImmediate(r));
  // Made but not yet read when the chunk that passes the limit arrives: it cannot have that chunk in order.
  const late = replay.reader()!;
  const lateError = once(late, 'error');
  source.end('67890');
  expect(await firstText).toBe('1234567890');
  expect(String(((await lateError) as Error[])[0])).toMatch(/replay limit/);
});

test('a source error reaches every reader', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 1024);
  const a = readAll(replay.reader()!);
  const b = readAll(replay.reader()!);
  source.write('part');
  source.destroy(new Error('client reset'));
  await expect(a).rejects.toThrow('client reset');
  await expect(b).rejects.toThrow('client reset');
});

test('a whole-or-nothing reader fails when the body grows past the bound, while the others read on live', async () => {
  const source = new PassThrough();
  const replay = new BodyReplay(source, 8);
  const live = replay.reader()!;
  const copy = replay.reader(true)!;
  const liveText = readAll(live);
  const copyText = readAll(copy);
  source.write('12345');
  await new Promise((r) => setImmediate(r));
  source.end('67890');
  expect(await liveText).toBe('1234567890');
  await expect(copyText).rejects.toThrow('request body grew past the replay limit');
});
