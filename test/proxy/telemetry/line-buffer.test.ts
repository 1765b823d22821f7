import { LineBuffer, type ChunkWriter } from '../../../proxy/telemetry/line-buffer';

test('a slow writer: lines past the bound are dropped and counted, push never waits', () => {
  const pending: (() => void)[] = [];
  const written: string[] = [];
  const slow: ChunkWriter = (chunk, done) => pending.push(() => {
    written.push(chunk.toString());
    done(null);
  });
  const buffer = new LineBuffer(slow, 100);
  let accepted = 0;
  for (let i = 0; i < 50; i++) if (buffer.push(`line-${String(i).padStart(3, '0')}`)) accepted++;
  expect(buffer.dropped).toBe(50 - accepted);
  expect(accepted).toBe(11); // 9 bytes a line with its newline: 11 fit the 100-byte bound, the one in flight included
  while (pending.length > 0) pending.shift()!();
  expect(buffer.written).toBe(accepted);
  expect(buffer.idle).toBe(true);
  expect(written.join('')).toBe(`${Array.from({ length: accepted }, (_, i) => `line-${String(i).padStart(3, '0')}`).join('\n')}\n`);
});

test('a failing writer: its lines count as dropped', () => {
  const buffer = new LineBuffer((_chunk, done) => done(new Error('EPIPE')));
  buffer.push('a');
  expect(buffer.dropped).toBe(1);
  expect(buffer.idle).toBe(true);
});
