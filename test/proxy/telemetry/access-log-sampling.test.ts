/**
 * The access log's sampling and file output, on the AccessLog itself: records made directly, a
 * seeded random source (WEFT_RANDOM_SEED's), and a real file appended to.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompletionRecord } from '../../../proxy/exchange/record';
import { randomSource } from '../../../proxy/seeded-random';
import { AccessLog } from '../../../proxy/telemetry/access-log';
import type { ChunkWriter } from '../../../proxy/telemetry/line-buffer';
import { eventually } from '../harness';

const peer = { authenticated: false, principal: undefined, encrypted: false };

function records(n: number): CompletionRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const r = new CompletionRecord('http', 'egress', '127.0.0.1', peer);
    r.path = `/r/${i}`;
    r.status = 200;
    return r;
  });
}

/** A writer that keeps the lines it is given and completes at once. */
function capture(): { lines: string[]; writerFor: () => ChunkWriter } {
  const lines: string[] = [];
  return { lines, writerFor: () => (chunk, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done(null)) };
}

test('10% sampling with a seeded random logs 10% of the records, within 1.5 points over 4,000', () => {
  const out = capture();
  const log = new AccessLog({ random: randomSource(17), writerFor: out.writerFor });
  log.apply({ path: '/dev/stdout', samplePercent: 10 });
  for (const r of records(4_000)) log.record(r);
  expect(out.lines.length).toBeGreaterThanOrEqual(340);
  expect(out.lines.length).toBeLessThanOrEqual(460);
});

test('without samplePercent every record is logged; 0 logs none; no access log writes nothing', () => {
  const out = capture();
  const log = new AccessLog({ random: () => 0.999, writerFor: out.writerFor });
  log.apply({ path: '/dev/stdout' });
  for (const r of records(100)) log.record(r);
  expect(out.lines).toHaveLength(100);
  log.apply({ path: '/dev/stdout', samplePercent: 0 });
  for (const r of records(100)) log.record(r);
  log.apply(undefined);
  for (const r of records(100)) log.record(r);
  expect(out.lines).toHaveLength(100);
});

test('a file path is appended to, one JSON line per record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-access-log-'));
  const path = join(dir, 'access.log');
  try {
    const log = new AccessLog({ random: Math.random });
    log.apply({ path, format: { json: { path: '%REQ(:PATH)%', code: '%RESPONSE_CODE%' } } });
    for (const r of records(3)) log.record(r);
    await eventually(() => log.written === 3 && log.idle, 'three lines written');
    expect(readFileSync(path, 'utf8')).toBe('{"path":"/r/0","code":200}\n{"path":"/r/1","code":200}\n{"path":"/r/2","code":200}\n');
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
