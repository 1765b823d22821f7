import { ChunkedDecoder, chunkHeader, lastChunk, type ChunkSink } from '../../../proxy/h1/chunked';
import { seededRandom } from '../../seeded-random';

const LIMITS = { maxTrailerBytes: 1024, maxTrailers: 10 };

interface Outcome {
  /** Index just past the body within the concatenated input, -1 (needs more) or -2 (error). */
  end: number;
  body: string;
  trailers: string[] | undefined;
  error: string | undefined;
  received: number;
}

class Collect implements ChunkSink {
  parts: Buffer[] = [];
  onData(chunk: Buffer): void {
    this.parts.push(chunk);
  }
  text(): string {
    return Buffer.concat(this.parts).toString('latin1');
  }
}

/** Feeds `input` split at `cuts` (ascending positions) and reports where the body ended in `input`'s coordinates. */
function decode(input: Buffer, cuts: number[], limits = LIMITS): Outcome {
  const d = new ChunkedDecoder(limits);
  const sink = new Collect();
  const bounds = [0, ...cuts, input.length];
  let end = -1;
  for (let p = 0; p + 1 < bounds.length && end === -1; p++) {
    const piece = input.subarray(bounds[p], bounds[p + 1]);
    // Feed each piece inside a larger buffer at an offset, as a connection's read buffer would be.
    const framed = Buffer.concat([Buffer.from('zz'), piece]);
    const r = d.feed(framed, 2, sink);
    end = r >= 0 ? bounds[p] + r - 2 : r;
  }
  return { end, body: sink.text(), trailers: d.trailers, error: d.error, received: d.received };
}

function whole(text: string, limits = LIMITS): Outcome {
  return decode(Buffer.from(text, 'latin1'), [], limits);
}

/** Byte-by-byte and seeded random splits, each with its cuts (so a failure names the split). */
function everySplit(text: string): { cuts: number[]; outcome: Outcome }[] {
  const buf = Buffer.from(text, 'latin1');
  const splits = [Array.from({ length: buf.length - 1 }, (_, k) => k + 1)];
  // Seeded, not Math.random: a failure must reproduce.
  const random = seededRandom(12345);
  for (let round = 0; round < 20; round++) {
    const cuts: number[] = [];
    for (let k = 1; k < buf.length; k++) if (random() < 0.25) cuts.push(k);
    splits.push(cuts);
  }
  return splits.map((cuts) => ({ cuts, outcome: decode(buf, cuts) }));
}

const VALID: [string, string, string, string[] | undefined][] = [
  ['simple', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', 'hello world', undefined],
  ['upper-case hex and leading zeros', '00A\r\n0123456789\r\n000000000000\r\n\r\n', '0123456789', undefined],
  ['empty body', '0\r\n\r\n', '', undefined],
  ['extensions', '5;name=value;flag\r\nhello\r\n1;q="a;b \\" c"\r\n!\r\n0;last\r\n\r\n', 'hello!', undefined],
  ['trailers', '3\r\nabc\r\n0\r\nExpires: never \r\nX-Checksum:\tabc\r\nX-Empty:\r\n\r\n', 'abc', ['expires', 'never', 'x-checksum', 'abc', 'x-empty', '']],
  ['binary payload with CR LF inside data', '4\r\n\r\n\r\n\r\n0\r\n\r\n', '\r\n\r\n', undefined],
];

describe('ChunkedDecoder: valid bodies', () => {
  test.each(VALID)('%s: whole, byte by byte and in random splits agree', (_label, text, body, trailers) => {
    const w = whole(text + 'NEXT');
    expect(w).toEqual({ end: text.length, body, trailers, error: undefined, received: body.length });
    for (const { cuts, outcome } of everySplit(text + 'NEXT')) expect({ cuts, outcome }).toEqual({ cuts, outcome: w });
  });

  test('payload slices are subarrays of the input, not copies', () => {
    const buf = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
    const d = new ChunkedDecoder(LIMITS);
    const seen: Buffer[] = [];
    expect(d.feed(buf, 0, { onData: (c) => seen.push(c) })).toBe(buf.length);
    expect(seen).toHaveLength(1);
    expect(seen[0].buffer).toBe(buf.buffer);
    expect(seen[0].byteOffset).toBe(buf.byteOffset + 3);
  });

  test('does not consume bytes of the next message and reports -1 while incomplete', () => {
    const d = new ChunkedDecoder(LIMITS);
    const sink = new Collect();
    expect(d.feed(Buffer.from('5\r\nhel'), 0, sink)).toBe(-1);
    expect(d.received).toBe(3);
    const rest = Buffer.from('lo\r\n0\r\n\r\nGET / HTTP/1.1\r\n');
    expect(d.feed(rest, 0, sink)).toBe(9);
    expect(sink.text()).toBe('hello');
  });

  test('reset() makes the decoder reusable', () => {
    const d = new ChunkedDecoder(LIMITS);
    const sink = new Collect();
    expect(d.feed(Buffer.from('1\r\na\r\n0\r\nX: 1\r\n\r\n'), 0, sink)).toBeGreaterThan(0);
    expect(d.trailers).toEqual(['x', '1']);
    expect(d.feed(Buffer.from('zz'), 0, sink)).toBe(0);
    d.reset();
    expect(d.trailers).toBeUndefined();
    expect(d.received).toBe(0);
    expect(d.feed(Buffer.from('2\r\nbc\r\n0\r\n\r\n'), 0, sink)).toBe(12);
    expect(sink.text()).toBe('abc');
    expect(d.received).toBe(2);
    d.reset();
    expect(d.feed(Buffer.from('x'), 0, sink)).toBe(-2);
    d.reset();
    expect(d.error).toBeUndefined();
    expect(d.feed(Buffer.from('0\r\n\r\n'), 0, sink)).toBe(5);
  });
});

const INVALID: [string, string, string][] = [
  ['no size', '\r\nabc\r\n0\r\n\r\n', 'invalid chunk size'],
  ['non-hex size', 'g\r\n', 'invalid chunk size'],
  ['negative size', '-1\r\n', 'invalid chunk size'],
  ['0x prefix', '0x5\r\n', 'invalid chunk size'],
  ['13 hex digits', '0000000000005\r\nhello\r\n0\r\n\r\n', 'chunk size too long'],
  ['huge size', 'ffffffffffffffff\r\n', 'chunk size too long'],
  ['bare LF after size', '5\nhello\r\n0\r\n\r\n', 'bare LF'],
  ['bare CR after size', '5\rhello\r\n', 'bare CR'],
  ['space before CRLF', '5 \r\nhello\r\n0\r\n\r\n', 'whitespace after chunk size'],
  ['leading space', ' 5\r\nhello\r\n', 'invalid chunk size'],
  ['bare LF in extension', '5;a\nhello\r\n', 'bare LF'],
  ['NUL in extension', '5;a\0\r\nhello\r\n', 'invalid chunk extension'],
  // RFC 9112 allows BWS around ';' and '='; llhttp refuses it, and so does Weft, in front of it.
  ['tab before extension', '3\t;x\r\nabc\r\n0\r\n\r\n', 'whitespace after chunk size'],
  ['space before extension', '1 ;q\r\n!\r\n0\r\n\r\n', 'whitespace after chunk size'],
  ['empty extension', '5;\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
  ['extension name not a token', '5;e"x=1\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
  ['extension value not a token', '5;e=/\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
  ['unclosed quoted extension value', '5;e="x\r\nhello\r\n0\r\n\r\n', 'invalid chunk extension'],
  ['long extension', '5;' + 'a'.repeat(1100) + '\r\nhello\r\n0\r\n\r\n', 'chunk line too long'],
  ['data longer than size', '3\r\nhello\r\n0\r\n\r\n', 'missing CRLF after chunk data'],
  ['data shorter than size', '6\r\nhello\r\n0\r\n\r\n', 'bare LF'], // the CR is taken as data, then the LF stands alone
  ['LF only after data', '5\r\nhello\n0\r\n\r\n', 'bare LF'],
  ['CR only after data', '5\r\nhello\r0\r\n\r\n', 'bare CR'],
  ['bare LF ending the body', '0\r\n\n', 'bare LF'],
  ['bare CR ending the body', '0\r\n\rX', 'bare CR'],
  ['trailer without colon', '0\r\nX\r\n\r\n', 'invalid trailer field name'],
  ['trailer with space before colon', '0\r\nX : 1\r\n\r\n', 'whitespace before colon'],
  ['trailer with empty name', '0\r\n: 1\r\n\r\n', 'empty trailer field name'],
  ['obs-fold trailer', '0\r\nX: 1\r\n 2\r\n\r\n', 'obs-fold in trailer'],
  ['bare LF in trailer', '0\r\nX: 1\n\r\n', 'bare LF'],
  ['bare CR in trailer', '0\r\nX: 1\r2\r\n\r\n', 'bare CR'],
  ['NUL in trailer', '0\r\nX: 1\0\r\n\r\n', 'control character in trailer'],
];

describe('ChunkedDecoder: framing errors', () => {
  test.each(INVALID)('%s', (_label, text, reason) => {
    const w = whole(text);
    expect(w.end).toBe(-2);
    expect(w.error).toBe(reason);
    for (const { cuts, outcome } of everySplit(text)) expect({ cuts, outcome }).toEqual({ cuts, outcome: w });
  });

  test('after an error every feed returns -2', () => {
    const d = new ChunkedDecoder(LIMITS);
    const sink = new Collect();
    expect(d.feed(Buffer.from('z'), 0, sink)).toBe(-2);
    expect(d.feed(Buffer.from('0\r\n\r\n'), 0, sink)).toBe(-2);
    expect(d.error).toBe('invalid chunk size');
  });

  test('trailer limits: bytes and count', () => {
    const fields = 'A: 1\r\nB: 2\r\n'; // 12 bytes, 2 fields
    const text = '0\r\n' + fields + '\r\n';
    expect(whole(text, { maxTrailerBytes: 12, maxTrailers: 2 }).trailers).toEqual(['a', '1', 'b', '2']);
    expect(whole(text, { maxTrailerBytes: 11, maxTrailers: 2 })).toMatchObject({ end: -2, error: 'trailers too large' });
    expect(whole(text, { maxTrailerBytes: 100, maxTrailers: 1 })).toMatchObject({ end: -2, error: 'too many trailer fields' });
    const many = '0\r\n' + 'X-Long: '.concat('v'.repeat(600)) + '\r\n\r\n';
    expect(whole(many, { maxTrailerBytes: 700, maxTrailers: 5 }).trailers).toEqual(['x-long', 'v'.repeat(600)]);
    expect(whole(many, { maxTrailerBytes: 500, maxTrailers: 5 }).error).toBe('trailers too large');
  });
});

describe('encoder helpers', () => {
  test('chunkHeader and lastChunk frame bodies the decoder reads back', () => {
    const pieces = ['hello', ' ', 'x'.repeat(300), '\r\n'];
    const wire = pieces.map((p) => chunkHeader(Buffer.byteLength(p)) + p + '\r\n').join('') + lastChunk(['X-Sum', '42', 'Bad', 'a\r\nInjected: 1', 'Bad Name', 'v', 'X-Lf', 'a\nb']);
    expect(chunkHeader(300)).toBe('12c\r\n');
    const w = whole(wire);
    expect(w.end).toBe(wire.length);
    expect(w.body).toBe(pieces.join(''));
    expect(w.trailers).toEqual(['x-sum', '42']);
  });

  test('lastChunk without trailers', () => {
    expect(lastChunk()).toBe('0\r\n\r\n');
    expect(lastChunk([])).toBe('0\r\n\r\n');
  });

  test('chunkHeader refuses sizes that would end or corrupt the body', () => {
    expect(() => chunkHeader(0)).toThrow(RangeError);
    expect(() => chunkHeader(-1)).toThrow(RangeError);
    expect(() => chunkHeader(1.5)).toThrow(RangeError);
  });
});
