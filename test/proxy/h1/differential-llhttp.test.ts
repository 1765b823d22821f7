/**
 * Weft's HTTP/1.1 request parser against Node's llhttp, on generated and mutated requests
 * (smuggling shapes, odd framing, odd whitespace, odd bytes). `proxy/h1/` replaced llhttp for
 * speed; it must be at least as strict. A case fails when Weft accepts a request llhttp refuses,
 * or when both accept it with a different meaning: method, target, header fields, body length, or
 * where the message ends (the next request on the connection would start elsewhere).
 *
 * llhttp is driven through Node's HTTPParser binding with no lenient flags, as node:http's server
 * uses it. `WEFT_FUZZ_CASES` sets the number of cases (CI runs the default; `npm run fuzz:h1` a
 * long run); `WEFT_FUZZ_SEED` repeats a run.
 */
import { ChunkedDecoder } from '../../../proxy/h1/chunked';
import { isHeadFailure, parseRequestHead, type RequestHead } from '../../../proxy/h1/head-parser';
import { seededRandom } from '../../seeded-random';

// Node's own parser binding: the module node:http builds its parsers from.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser, methods } = require('_http_common') as { HTTPParser: LlhttpParserClass; methods: string[] };

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(buf: Buffer): number | (Error & { code: string; reason: string });
  [key: number]: unknown;
}
type LlhttpParserClass = (new () => LlhttpParser) & Record<string, number>;

const CASES = Number(process.env.WEFT_FUZZ_CASES ?? 4000);
const SEED = Number(process.env.WEFT_FUZZ_SEED ?? 20261206);
const LIMITS = { maxHeaderBytes: 64 * 1024, maxHeaders: 200 };
/** Appended to every case: where the first message ends decides where this one starts. */
const NEXT = 'GET /next HTTP/1.1\r\nHost: next\r\n\r\n';

/** What a parser made of the first message of `buf`. */
type Reading =
  | { kind: 'message'; method: string; target: string; headers: string[]; body: number; tunnel: boolean }
  | { kind: 'refused'; reason: string }
  | { kind: 'incomplete' };

/** llhttp's reading of the first message; `complete` tells whether it ended within `buf`. */
function llhttp(buf: Buffer): Reading & { complete?: boolean } {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, LIMITS.maxHeaderBytes, 0);
  let first: (Reading & { kind: 'message'; complete: boolean }) | undefined;
  let partialHeaders: string[] = [];
  let partialUrl = '';
  let messages = 0;
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    partialHeaders.push(...headers);
    partialUrl += url ?? '';
  };
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[] | undefined, method: number, url: string | undefined, _s: unknown, _m: unknown, upgrade: boolean) => {
    messages++;
    if (messages === 1) first = { kind: 'message', method: methods[method], target: partialUrl + (url ?? ''), headers: [...partialHeaders, ...(headers ?? [])], body: 0, tunnel: upgrade, complete: false };
    partialHeaders = [];
    partialUrl = '';
    // A tunnel (CONNECT, Upgrade): the rest of the bytes are not HTTP.
    return upgrade ? 2 : 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer) => {
    if (messages === 1 && first) first.body += b.length;
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (messages === 1 && first) first.complete = true;
  };
  const result = parser.execute(buf);
  if (first?.complete || first?.tunnel) return first;
  if (typeof result !== 'number') return { kind: 'refused', reason: `${result.code}: ${result.reason}` };
  return { kind: 'incomplete' };
}

/** Weft's reading of the first message, and where it ends. */
function weft(buf: Buffer): Reading & { end?: number } {
  const head = parseRequestHead(buf, 0, LIMITS);
  if (head === undefined) return { kind: 'incomplete' };
  if (isHeadFailure(head)) return { kind: 'refused', reason: `${head.status} ${head.reason}` };
  const h = head as RequestHead;
  const tunnel = h.method === 'CONNECT' || h.upgrade;
  const base = { kind: 'message' as const, method: h.method, target: h.target, headers: h.rawHeaders, tunnel };
  if (tunnel) return { ...base, body: 0, end: h.length };
  if (h.chunked) {
    const decoder = new ChunkedDecoder({ maxTrailerBytes: 16 * 1024, maxTrailers: 100 });
    let body = 0;
    const end = decoder.feed(buf, h.length, { onData: (c) => (body += c.length) });
    if (end === -2) return { kind: 'refused', reason: `chunked: ${decoder.error}` };
    if (end === -1) return { kind: 'incomplete' };
    return { ...base, body, end };
  }
  const length = Math.max(0, h.contentLength);
  if (h.length + length > buf.length) return { kind: 'incomplete' };
  return { ...base, body: length, end: h.length + length };
}

// --- Generation ---

const BASES = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: a.example:8080\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n',
  'POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
  'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n',
  'POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\nX-Trailer: v\r\n\r\n',
  'PUT /x HTTP/1.0\r\nHost: a\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc',
  'DELETE /r HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: b=2\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET http://a.example/abs HTTP/1.1\r\nHost: a.example\r\n\r\n',
  'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
];

/** Lines that smuggling attacks and sloppy clients send. */
const ODD_LINES = [
  'Content-Length: 5', 'Content-Length: 0', 'Content-Length: +5', 'Content-Length: 05', 'Content-Length: 5,5', 'Content-Length: 5, 6',
  'Content-Length: 5 5', 'Content-Length:  5 ', 'Content-Length: -1', 'Content-Length: 0x5', 'Content-Length: 99999999999999999999',
  'Content-Length : 5', 'Content-Length\t: 5', ' Content-Length: 5', 'Content-Length: 5\x0b',
  'Transfer-Encoding: chunked', 'Transfer-Encoding: Chunked', 'Transfer-Encoding:  chunked ', 'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: identity, chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: xchunked', 'Transfer-Encoding: chunked\x0b',
  'Transfer-Encoding: "chunked"', 'Transfer-Encoding : chunked', 'Transfer-Encoding:\tchunked', 'Transfer-Encoding: identity', 'Transfer-Encoding:',
  'Host: b', 'Host:', 'Host: a b', 'X-A: b\r\n c', 'X-A: b\r\n\tc', 'X-\x00: v', 'X-A: \x00', 'X-A: \x7f', 'X-A: \x80\xff', 'X A: v', 'X-A:v',
  ': novalue', 'X-A', 'x-a: v', 'Connection: close', 'Connection: keep-alive, x-a', 'Expect: 100-continue', 'Upgrade: h2c',
];

const ODD_BYTES = ['\r', '\n', '\r\n', ' ', '\t', '\x00', ':', ';', ',', '"', '\x0b', '\x0c', '\x7f', '\x80', '\xff', '0', '5', 'a', 'F', '-', '+', '/', '?', '#', '%', 'HTTP/1.1'];

function mutate(base: string, r: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  let s = base;
  const rounds = 1 + Math.floor(r() * 3);
  for (let k = 0; k < rounds; k++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0:
        s = s.slice(0, at) + pick(ODD_BYTES) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3));
        break;
      case 2:
        s = s.slice(0, at) + pick(ODD_BYTES) + s.slice(at + 1);
        break;
      case 3:
      case 4: {
        // A smuggling-shaped field line after the start line.
        const lineEnd = s.indexOf('\r\n');
        s = `${s.slice(0, lineEnd + 2)}${pick(ODD_LINES)}\r\n${s.slice(lineEnd + 2)}`;
        break;
      }
      case 5: {
        // The start line's separators, version or method.
        const [line, ...rest] = s.split('\r\n');
        const parts = line.split(' ');
        const i = Math.floor(r() * parts.length);
        parts[i] = pick([parts[i].toLowerCase(), `${parts[i]} `, `\t${parts[i]}`, 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'GE T', 'G\x00ET', '/a b', '/\x80', '/%zz', '/a#f', '']);
        s = [parts.join(pick([' ', ' ', '  ', '\t'])), ...rest].join('\r\n');
        break;
      }
      case 6:
        // Chunk framing: sizes and line ends.
        s = s.replace(/\r\n([0-9a-f]+)(;[^\r]*)?\r\n/, () => `\r\n${pick(['5 ', ' 5', '05', '0x5', '-5', '5\t;x', 'fffffffffffffffff', '5;x="y"', '5;', '5\n', 'g'])}\r\n`);
        break;
      default:
        // Line ends: bare LF, bare CR, or a doubled one.
        s = s.replace('\r\n', pick(['\n', '\r', '\r\n\r\n', '\r\r\n', ' \r\n']));
    }
  }
  return s;
}

/** A token (RFC 9110): a method llhttp may not know but any server may. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Disagreement {
  input: string;
  weft: unknown;
  llhttp: unknown;
  why: string;
}

function compare(input: string): Disagreement | undefined {
  const buf = Buffer.from(input + NEXT, 'latin1');
  const w = weft(buf);
  const l = llhttp(buf);
  const found = (why: string): Disagreement => ({ input, weft: w, llhttp: l, why });
  if (w.kind === 'refused') return undefined; // as strict or stricter
  if (w.kind === 'incomplete') return l.kind === 'message' ? found('llhttp completes a message Weft is still reading') : undefined;
  if (l.kind === 'refused') {
    // llhttp knows a fixed list of methods; a well-formed other token is still HTTP.
    if (l.reason.startsWith('HPE_INVALID_METHOD') && TOKEN.test(w.method) && !methods.includes(w.method)) return undefined;
    return found('Weft accepts a request llhttp refuses');
  }
  if (l.kind === 'incomplete') return found('llhttp is still reading a message Weft has ended');
  if (w.method !== l.method) return found('method');
  if (w.target !== l.target) return found('target');
  if (JSON.stringify(w.headers) !== JSON.stringify(l.headers)) return found('header fields');
  if (w.tunnel !== l.tunnel) return found('tunnel');
  if (w.tunnel) return undefined;
  if (w.body !== l.body) return found('body length');
  // Where the message ends: llhttp must complete it with Weft's last byte, and not one byte sooner.
  const end = w.end!;
  const upTo = (n: number) => llhttp(buf.subarray(0, n));
  const exact = upTo(end);
  const shorter = upTo(end - 1);
  if (!(exact.kind === 'message' && exact.complete) || (shorter.kind === 'message' && shorter.complete)) return found('where the message ends');
  return undefined;
}

describe('Weft h1 parser vs llhttp', () => {
  test('the unmutated requests read the same in both', () => {
    for (const base of BASES) expect({ base, d: compare(base) }).toEqual({ base, d: undefined });
  });

  test(`${CASES} mutated requests (seed ${SEED}): none accepted by Weft with another meaning than llhttp's, or refused by llhttp`, () => {
    const r = seededRandom(SEED);
    const disagreements: Disagreement[] = [];
    let weftRefused = 0;
    let bothAccepted = 0;
    for (let i = 0; i < CASES; i++) {
      const input = mutate(BASES[Math.floor(r() * BASES.length)], r);
      const d = compare(input);
      if (d !== undefined) disagreements.push(d);
      const w = weft(Buffer.from(input + NEXT, 'latin1'));
      if (w.kind === 'refused') weftRefused++;
      else if (w.kind === 'message') bothAccepted++;
    }
    // The mutations reach both outcomes, or the comparison proves little.
    expect(weftRefused).toBeGreaterThan(CASES / 10);
    expect(bothAccepted).toBeGreaterThan(CASES / 10);
    expect(disagreements.slice(0, 10)).toEqual([]);
  });
});
