import * as http from 'node:http';
import * as net from 'node:net';
import { seededRandom } from '../../seeded-random';
import {
  HeadScan,
  isHeadFailure,
  parseRequestHead,
  parseResponseHead,
  type HeadFailure,
  type HeadLimits,
  type RequestHead,
  type ResponseHead,
} from '../../../proxy/h1/head-parser';

const LIMITS: HeadLimits = { maxHeaderBytes: 16 * 1024, maxHeaders: 100 };

function req(text: string, limits: HeadLimits = LIMITS, offset = 0): RequestHead | HeadFailure | undefined {
  return parseRequestHead(Buffer.from(text, 'latin1'), offset, limits);
}

function ok(text: string, limits: HeadLimits = LIMITS): RequestHead {
  const r = req(text, limits);
  if (r === undefined || isHeadFailure(r)) throw new Error(`expected a head, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  return r;
}

function okRes(text: string): ResponseHead {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, LIMITS);
  if (r === undefined || isHeadFailure(r)) throw new Error(`expected a head, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  return r;
}

function refused(text: string, status: 400 | 431 = 400, limits: HeadLimits = LIMITS): string {
  const r = req(text, limits);
  if (!isHeadFailure(r)) throw new Error(`expected a refusal, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  expect(r.status).toBe(status);
  return r.reason;
}

function refusedRes(text: string, status: 400 | 431 = 400): string {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, LIMITS);
  if (!isHeadFailure(r)) throw new Error(`expected a refusal, got ${JSON.stringify(r)} for ${JSON.stringify(text)}`);
  expect(r.status).toBe(status);
  return r.reason;
}

const TYPICAL =
  'GET /orders/42?page=2 HTTP/1.1\r\n' +
  'Host: orders.example.com:8080\r\n' +
  'User-Agent: curl/8.5.0\r\n' +
  'Accept: */*\r\n' +
  'Accept-Encoding: gzip, br\r\n' +
  'X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n' +
  'Cookie: a=1\r\n' +
  'cookie: b=2\r\n' +
  'Connection: keep-alive\r\n' +
  '\r\n';

describe('request line', () => {
  test('parses a typical request head', () => {
    const h = ok(TYPICAL);
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/orders/42?page=2');
    expect(h.versionMinor).toBe(1);
    expect(h.length).toBe(TYPICAL.length);
    expect(h.keepAlive).toBe(true);
    expect(h.connectionListed).toBeUndefined();
    expect(h.contentLength).toBe(-1);
    expect(h.chunked).toBe(false);
    expect(h.headers).toEqual({
      host: 'orders.example.com:8080',
      'user-agent': 'curl/8.5.0',
      accept: '*/*',
      'accept-encoding': 'gzip, br',
      'x-request-id': '0f8fad5b-d9cb-469f-a165-70867728950e',
      cookie: 'a=1; b=2',
      connection: 'keep-alive',
    });
    expect(h.rawHeaders.slice(0, 4)).toEqual(['Host', 'orders.example.com:8080', 'User-Agent', 'curl/8.5.0']);
    expect(h.rawHeaders.slice(10, 14)).toEqual(['Cookie', 'a=1', 'cookie', 'b=2']);
  });

  test('accepts any token as a method and keeps it as sent', () => {
    expect(ok('PURGE * HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('PURGE');
    expect(ok('M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('M-SEARCH');
    expect(ok('post / HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('post');
  });

  test.each([
    ['empty method', ' / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['non-token method', 'GE(T / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['tab after method', 'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])('refuses %s', (_label, text) => {
    expect(refused(text)).toBe('invalid method');
  });

  test.each([
    ['two spaces after method', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['two spaces after target', 'GET /  HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['space inside target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['DEL in target', 'GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['obs-text in target', 'GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])('refuses %s', (_label, text) => {
    // A space splits the line into the wrong number of parts: whichever part is then malformed is reported.
    expect(refused(text)).toMatch(/^(invalid request-target|invalid HTTP version)$/);
  });

  test('accepts absolute-form, authority-form and asterisk targets', () => {
    expect(ok('GET http://a.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n').target).toBe('http://a.example/x?y=1');
    expect(ok('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n').target).toBe('a.example:443');
    expect(ok('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target).toBe('*');
  });

  test.each([
    ['HTTP/2.0'], ['HTTP/1.2'], ['http/1.1'], ['HTTP/1.1 '], ['HTTP/1'], ['HTTP/1.10'], ['HTTP/0.9'],
  ])('refuses version %j', (version) => {
    expect(refused(`GET / ${version}\r\nHost: a\r\n\r\n`)).toMatch(/version|request-line/);
  });

  test('HTTP/1.0 parses and is not persistent by default', () => {
    const h = ok('GET / HTTP/1.0\r\n\r\n');
    expect(h.versionMinor).toBe(0);
    expect(h.keepAlive).toBe(false);
    expect(ok('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
    expect(ok('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n').keepAlive).toBe(false);
  });

  test('ignores up to 4 empty lines before the request-line, refuses more', () => {
    const h = ok('\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(h.method).toBe('GET');
    expect(h.length).toBe(8 + 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'.length);
    expect(refused('\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('too many empty lines before the request-line');
    expect(refused('\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('bare LF');
  });
});

describe('line endings and control characters', () => {
  test.each([
    ['bare LF after request-line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 'bare LF'],
    ['bare LF after a field', 'GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n', 'bare LF'],
    ['bare LF as the blank line', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 'bare LF'],
    ['LF-only head', 'GET / HTTP/1.1\nHost: a\n\n', 'bare LF'],
    ['bare CR ending a field', 'GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n', 'bare CR'],
    ['CR inside a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 'bare CR'],
    ['bare CR as the blank line', 'GET / HTTP/1.1\r\nHost: a\r\n\rX', 'bare CR'],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n', 'NUL byte'],
    ['NUL in a name', 'GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n', 'NUL byte'],
    ['NUL in the target', 'GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    // Targets of none of RFC 9112's four forms, or forms llhttp reads differently.
    ['a target that is no form', 'GET x HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['an asterisk with more', 'OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['absolute-form without //', 'GET http:#//a/ HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['absolute-form scheme with a digit', 'GET h5tp://a/ HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['absolute-form authority with a quote', 'GET http://a"b/ HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['authority-form outside CONNECT', 'GET a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['CONNECT authority with a fragment', 'CONNECT a.example:443# HTTP/1.1\r\nHost: a\r\n\r\n', 'invalid request-target'],
    ['a tab after chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n', 'unsupported Transfer-Encoding'],
    ['a tab after Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\t\r\n\r\nabc', 'invalid Content-Length'],
    ['a tab after a Connection token', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\t\r\nUpgrade: ws\r\n\r\n', 'invalid Connection token'],
    ['VT in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n', 'control character'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 'control character'],
    ['ESC in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n', 'control character'],
  ])('refuses %s', (_label, text, reason) => {
    expect(refused(text)).toBe(reason);
  });

  test('HTAB inside and around values and obs-text in values are accepted', () => {
    const h = ok('GET / HTTP/1.1\r\nHost: a\r\nX:\t a\tb \t\r\nY: caf\xe9\r\nZ:\r\nW:   \r\n\r\n');
    expect(h.headers.x).toBe('a\tb');
    expect(h.headers.y).toBe('caf\xe9');
    expect(h.headers.z).toBe('');
    expect(h.headers.w).toBe('');
    expect(h.rawHeaders).toEqual(['Host', 'a', 'X', 'a\tb', 'Y', 'caf\xe9', 'Z', '', 'W', '']);
  });
});

describe('field lines', () => {
  test('refuses whitespace before the colon', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n')).toBe('whitespace before colon');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n')).toBe('whitespace before colon');
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n').headers['x-a']).toBe('1');
  });

  test('refuses obs-fold', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n')).toBe('obs-fold');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n')).toBe('obs-fold');
    expect(refused('GET / HTTP/1.1\r\n Host: a\r\n\r\n')).toBe('obs-fold');
  });

  test('refuses an empty or non-token field name, and a line without a colon', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n')).toBe('empty field name');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX(Y): x\r\n\r\n')).toBe('invalid field name');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n')).toBe('bare CR');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX\xe9: 1\r\n\r\n')).toBe('invalid field name');
  });

  test('refuses __proto__ as a field name and leaves prototypes alone', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\n__proto__: {"polluted":1}\r\n\r\n')).toBe('field name __proto__');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\n__PROTO__: x\r\n\r\n')).toBe('field name __proto__');
    const h = ok('GET / HTTP/1.1\r\nHost: a\r\nconstructor: 1\r\nconstructor: 2\r\ntoString: x\r\nhasOwnProperty: y\r\n\r\n');
    expect(h.headers.constructor).toBe('1, 2');
    expect(h.headers.tostring).toBe('x');
    expect(h.headers.hasownproperty).toBe('y');
    expect(Object.getPrototypeOf(h.headers)).toBe(Object.prototype);
  });

  test('header object semantics: set-cookie array, first-kept singletons, cookie and list joins', () => {
    const h = ok(
      'GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nUser-Agent: one\r\nuser-agent: two\r\n' +
        'Authorization: Bearer 1\r\nAuthorization: Bearer 2\r\nAccept: a\r\nACCEPT: b\r\nCookie: x=1\r\nCookie: y=2\r\n\r\n',
    );
    expect(h.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(h.headers['user-agent']).toBe('one');
    expect(h.headers.authorization).toBe('Bearer 1');
    expect(h.headers.accept).toBe('a, b');
    expect(h.headers.cookie).toBe('x=1; y=2');
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: only\r\n\r\n').headers['set-cookie']).toEqual(['only']);
  });
});

describe('field-name lower-casing', () => {
  // The parser matches frequent names byte-wise instead of calling toLowerCase(); check it against
  // toLowerCase() for every casing of those names and for near-misses one byte away.
  const names = ['Host', 'Content-Length', 'Transfer-Encoding', 'Accept-Encoding', 'X-Request-Id', 'Set-Cookie', 'Cookie', 'User-Agent', 'Te', 'Via'];
  const tchars = "!#$%&'*+-.^_`|~09azAZ";

  test('keys equal toLowerCase() of the name as sent', () => {
    for (const base of names) {
      const variants = [base, base.toUpperCase(), base.toLowerCase()];
      for (let k = 0; k < base.length; k++) for (const t of tchars) variants.push(base.slice(0, k) + t + base.slice(k + 1));
      for (const name of variants) {
        const lower = name.toLowerCase();
        if (['host', 'content-length', 'transfer-encoding'].includes(lower) || lower === '__proto__') continue;
        const h = ok(`GET / HTTP/1.1\r\nHost: a\r\n${name}: v\r\n\r\n`);
        expect(Object.keys(h.headers)).toEqual(['host', lower]);
        expect(h.rawHeaders[2]).toBe(name);
      }
    }
  });
});

describe('Host', () => {
  test('HTTP/1.1 requires exactly one valid Host', () => {
    expect(refused('GET / HTTP/1.1\r\nX: 1\r\n\r\n')).toBe('missing Host');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n')).toBe('duplicate Host');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n')).toBe('duplicate Host');
    expect(refused('GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n')).toBe('duplicate Host');
    expect(ok('GET / HTTP/1.0\r\n\r\n').headers.host).toBeUndefined();
  });

  test.each([
    ['a.example'], ['a.example:8080'], ['[::1]:443'], ['[fe80::1%25eth0]'], ['10.0.0.1'], ['xn--bcher-kva.example'], ['a_b~c'],
  ])('accepts Host %j', (host) => {
    expect(ok(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).headers.host).toBe(host);
  });

  test.each([
    ['a/b'], ['user@a'], ['a b'], ['a,b'], ['a"b'], ['a\\b'], ['a?b'], ['a#b'], [''], ['a\xe9'],
  ])('refuses Host %j', (host) => {
    expect(refused(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`)).toBe('invalid Host');
  });
});

describe('Content-Length', () => {
  test.each([
    ['0', 0], ['5', 5], ['00012', 12], ['999999999999999', 999999999999999],
  ])('accepts %j', (value, n) => {
    const h = ok(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${value}\r\n\r\n`);
    expect(h.contentLength).toBe(n);
    expect(h.headers['content-length']).toBe(value);
  });

  // Lists of equal values are allowed by RFC 9110 §8.6 but refused by llhttp: refused here too.
  test.each([['+5'], ['-1'], ['5 5'], ['0x5'], [''], ['1000000000000000'], ['5,'], [',5'], ['5, 6'], ['5;'], ['1e3'], ['5.0'], ['5, 5'], ['5,5,5']])('refuses %j', (value) => {
    expect(refused(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${value}\r\n\r\n`)).toMatch(/Content-Length/);
  });

  test('a second Content-Length field is refused, equal or not (as llhttp does)', () => {
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n')).toBe('duplicate Content-Length');
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n')).toBe('duplicate Content-Length');
  });
});

describe('Transfer-Encoding', () => {
  test('accepts exactly chunked, case-insensitively, with OWS', () => {
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n').chunked).toBe(true);
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n').chunked).toBe(true);
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n').chunked).toBe(true);
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nTransfer-encoding: chunked \r\n\r\n').chunked).toBe(true);
  });

  test.each([['gzip'], ['gzip, chunked'], ['chunked, chunked'], ['identity'], [''], ['xchunked'], ['chunked;q=1'], ['"chunked"'], ['chunke'], ['chunked\x0b']])(
    'refuses %j',
    (value) => {
      expect(refused(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${value}\r\n\r\n`)).toMatch(/Transfer-Encoding|control character/);
    },
  );

  test('refuses TE with Content-Length in either order, and TE in HTTP/1.0', () => {
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe('Transfer-Encoding with Content-Length');
    expect(refused('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n')).toBe('Transfer-Encoding with Content-Length');
    expect(refused('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe('Transfer-Encoding in HTTP/1.0');
  });
});

describe('request smuggling corpus', () => {
  const cases: [string, string][] = [
    ['CL.TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['TE.CL', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'],
    ['space before colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n'],
    ['xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n'],
    ['second TE line', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n'],
    ['identical TE lines', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['differing CL lines', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'],
    ['LF-only TE line', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\nContent-Length: 3\r\n\r\n'],
    ['CR inside TE value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\rX: y\r\n\r\n'],
    ['obs-folded TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n'],
    ['NUL in TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\0\r\n\r\n'],
    ['vertical tab TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n'],
    ['TE with comma', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n'],
    ['CL with space inside', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n'],
    ['header injection via LF in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\nHost: evil\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: evil\r\n\r\n'],
  ];
  test.each(cases)('refuses %s with 400', (_label, text) => {
    refused(text, 400);
  });

  test('a refused head never yields a partial success when split', () => {
    for (const [, text] of cases) {
      const buf = Buffer.from(text, 'latin1');
      for (let cut = 0; cut < buf.length; cut++) {
        const r = parseRequestHead(buf.subarray(0, cut), 0, LIMITS);
        expect(r === undefined || isHeadFailure(r)).toBe(true);
      }
    }
  });
});

describe('Connection, Upgrade and Expect', () => {
  test('close ends persistence; listed tokens are reported lower-cased', () => {
    const h = ok('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(h.keepAlive).toBe(false);
    expect(h.connectionListed).toBeUndefined();
    const l = ok('GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, X-Trace ,,te\r\nconnection: Close, x-trace\r\n\r\n');
    expect(l.keepAlive).toBe(false);
    expect(l.connectionListed).toEqual(['x-trace', 'te']);
    expect(l.headers.connection).toBe('Keep-Alive, X-Trace ,,te, Close, x-trace');
  });

  test('refuses a Connection element that is not a token', () => {
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n')).toBe('invalid Connection token');
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nConnection: "close"\r\n\r\n')).toBe('invalid Connection token');
  });

  test('upgrade needs both the token and the field', () => {
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe(true);
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n').upgrade).toBe(false);
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe(false);
  });

  test('expectContinue only for 100-continue; other Expect values pass through', () => {
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n').expectContinue).toBe(true);
    const other = ok('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n');
    expect(other.expectContinue).toBe(false);
    expect(other.headers.expect).toBe('100-continue-ish');
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\n\r\n').expectContinue).toBe(false);
  });
});

describe('limits', () => {
  test('head bytes over maxHeaderBytes: 431, exactly at the limit: parsed', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\nX: 12345\r\n\r\n';
    expect(ok(text, { maxHeaderBytes: text.length, maxHeaders: 10 }).length).toBe(text.length);
    expect(refused(text, 431, { maxHeaderBytes: text.length - 1, maxHeaders: 10 })).toBe('head too large');
  });

  test('an incomplete head: undefined until more than maxHeaderBytes are buffered', () => {
    const limits = { maxHeaderBytes: 64, maxHeaders: 10 };
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nX: ' + 'a'.repeat(30), limits)).toBeUndefined();
    expect(refused('GET / HTTP/1.1\r\nHost: a\r\nX: ' + 'a'.repeat(60), 431, limits)).toBe('head too large');
  });

  test('a 1 MB buffer without a line end fails at the limit', () => {
    const big = Buffer.alloc(1024 * 1024, 0x61);
    Buffer.from('GET /').copy(big);
    const r = parseRequestHead(big, 0, { maxHeaderBytes: 8192, maxHeaders: 100 });
    expect(r).toEqual({ status: 431, reason: 'head too large' });
    const garbage = Buffer.alloc(1024 * 1024, 0x01);
    expect(parseRequestHead(garbage, 0, LIMITS)).toEqual({ status: 400, reason: 'invalid method' });
  });

  test('field lines over maxHeaders: 431', () => {
    const fields = (n: number) => 'GET / HTTP/1.1\r\nHost: a\r\n' + Array.from({ length: n - 1 }, (_, k) => `X-${k}: v\r\n`).join('') + '\r\n';
    expect(ok(fields(5), { maxHeaderBytes: 4096, maxHeaders: 5 }).rawHeaders.length).toBe(10);
    expect(refused(fields(6), 431, { maxHeaderBytes: 4096, maxHeaders: 5 })).toBe('too many header fields');
  });
});

describe('incremental input and offsets', () => {
  const heads = [
    TYPICAL,
    '\r\nPOST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a\r\n\r\n',
    'GET / HTTP/1.0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n',
  ];
  test.each(heads)('split at every byte gives undefined, then the same head: %j', (text) => {
    const whole = ok(text);
    const buf = Buffer.from(text, 'latin1');
    for (let cut = 0; cut < buf.length; cut++) {
      expect(parseRequestHead(buf.subarray(0, cut), 0, LIMITS)).toBeUndefined();
    }
    expect(parseRequestHead(buf, 0, LIMITS)).toEqual(whole);
  });

  test('length stops at the blank line with pipelined bytes after it, from any offset', () => {
    const second = 'GET /2 HTTP/1.1\r\nHost: b\r\n\r\n';
    const buf = Buffer.from('junk' + TYPICAL + second + 'GET /3', 'latin1');
    const a = parseRequestHead(buf, 4, LIMITS) as RequestHead;
    expect(a.length).toBe(TYPICAL.length);
    const b = parseRequestHead(buf, 4 + a.length, LIMITS) as RequestHead;
    expect(b.target).toBe('/2');
    expect(b.length).toBe(second.length);
    expect(parseRequestHead(buf, 4 + a.length + b.length, LIMITS)).toBeUndefined();
  });

  test('errors in the complete lines of a partial head are reported before it ends', () => {
    expect(req('GET / HTTP/1.1\nHo')).toEqual({ status: 400, reason: 'bare LF' });
    expect(req('GET / HTTP/1.1\r\nX : 1\r\nHo')).toEqual({ status: 400, reason: 'whitespace before colon' });
    expect(req('GET / HTTP/2')).toEqual({ status: 400, reason: 'invalid HTTP version' });
    expect(parseResponseHead(Buffer.from('HTTP/2'), 0, LIMITS)).toEqual({ status: 400, reason: 'invalid status-line' });
  });

  test('the byte limit counts from the offset', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const buf = Buffer.from('x'.repeat(100) + text, 'latin1');
    expect(isHeadFailure(parseRequestHead(buf, 100, { maxHeaderBytes: text.length, maxHeaders: 5 }))).toBe(false);
  });
});

describe('a head in pieces, resumed with a HeadScan', () => {
  /** Feeds `text` in the given piece sizes as a connection does (one growing buffer), returning the last result and the scan. */
  function feed(text: string, sizes: () => number, parse: (b: Buffer, o: number, l: HeadLimits, s: HeadScan) => unknown = parseRequestHead, limits = LIMITS): { result: unknown; scan: HeadScan } {
    const all = Buffer.from(text, 'latin1');
    const scan = new HeadScan();
    let at = 0;
    let result: unknown;
    do {
      at = Math.min(all.length, at + sizes());
      result = parse(all.subarray(0, at), 0, limits, scan);
    } while (result === undefined && at < all.length);
    return { result, scan };
  }

  const heads = [
    TYPICAL,
    '\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\n',
    'GET / HTTP/1.0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: a\nHost: evil\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\rY: 2\r\n\r\n',
    'GET /' + 'p'.repeat(3000) + ' HTTP/1.1\r\nHost: a\r\n' + 'X-Long: ' + 'v'.repeat(5000) + '\r\n\r\n',
  ];

  test.each(heads)('any split gives what the whole head gives: %j', (text) => {
    const whole = parseRequestHead(Buffer.from(text, 'latin1'), 0, LIMITS);
    const random = seededRandom(text.length);
    for (const sizes of [() => 1, () => 2, () => 7, () => 1 + Math.floor(random() * 40)]) {
      expect(feed(text, sizes).result).toEqual(whole);
    }
  });

  test('too many fields and too large heads are refused in pieces too', () => {
    const many = 'GET / HTTP/1.1\r\nHost: a\r\n' + 'X: y\r\n'.repeat(10) + '\r\n';
    expect(feed(many, () => 3, parseRequestHead, { maxHeaderBytes: 4096, maxHeaders: 5 }).result).toEqual({ status: 431, reason: 'too many header fields' });
    const large = 'GET / HTTP/1.1\r\nHost: a\r\nX: ' + 'a'.repeat(200) + '\r\n\r\n';
    expect(feed(large, () => 3, parseRequestHead, { maxHeaderBytes: 100, maxHeaders: 10 }).result).toEqual({ status: 431, reason: 'head too large' });
  });

  test('responses resume too', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n';
    expect(feed(text, () => 3, parseResponseHead).result).toEqual(parseResponseHead(Buffer.from(text), 0, LIMITS));
  });

  test('a 60 KB head dripped in 10-byte pieces is scanned a bounded number of times, not once per piece', () => {
    const fields = (line: (k: number) => string, n: number) => 'GET / HTTP/1.1\r\nHost: a\r\n' + Array.from({ length: n }, (_, k) => line(k)).join('') + '\r\n';
    const limits = { maxHeaderBytes: 64 * 1024, maxHeaders: 100 };
    // Short lines (a line end in nearly every piece), then one long value (no line end for 60 KB).
    for (const text of [fields((k) => `X-${k}: ${'v'.repeat(590)}\r\n`, 99), fields(() => `X-Long: ${'v'.repeat(60_000)}\r\n`, 1)]) {
      const { result, scan } = feed(text, () => 10, parseRequestHead, limits);
      expect(isHeadFailure(result) || result === undefined).toBe(false);
      // Parsing the whole head at once scans it once; without resuming, 6,000 pieces scan ~180 MB.
      expect(scan.scanned).toBeLessThan(3 * text.length);
    }
  });
});

describe('responses', () => {
  test('accepts status lines with and without a reason', () => {
    const a = okRes('HTTP/1.1 200\r\n\r\n');
    expect(a.status).toBe(200);
    expect(a.reason).toBe('');
    const b = okRes('HTTP/1.1 204 No Content\r\n\r\n');
    expect(b.status).toBe(204);
    expect(b.reason).toBe('No Content');
    expect(okRes('HTTP/1.1 200 \r\n\r\n').reason).toBe('');
    expect(okRes('HTTP/1.0 599 Whatever\t\xe9 x\r\n\r\n').reason).toBe('Whatever\t\xe9 x');
    expect(okRes('HTTP/1.0 200 OK\r\n\r\n').keepAlive).toBe(false);
  });

  test('parses fields without requiring Host', () => {
    const r = okRes('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nServer: x\r\nServer: y\r\n\r\nbody');
    expect(r.contentLength).toBe(12);
    expect(r.headers).toEqual({ 'content-length': '12', 'set-cookie': ['a=1', 'b=2'], server: 'x' });
    expect(r.length).toBe(r.rawHeaders.join('').length + 'HTTP/1.1 200 OK\r\n\r\n'.length + 5 * 4);
    expect(okRes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').chunked).toBe(true);
  });

  test.each([
    ['HTTP/1.1 99 X\r\n\r\n'], ['HTTP/1.1 600 X\r\n\r\n'], ['HTTP/1.1 20 X\r\n\r\n'], ['HTTP/1.1 2000\r\n\r\n'], ['HTTP/2 200 OK\r\n\r\n'],
    ['http/1.1 200 OK\r\n\r\n'], ['HTTP/1.1  200 OK\r\n\r\n'], ['HTTP/1.1 200 OK\n\r\n'], ['HTTP/1.1 200 O\0K\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'], ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'], ['HTTP/1.1 200 OK\r\nX : y\r\n\r\n'], ['HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n'],
  ])('refuses %j with 400', (text) => {
    refusedRes(text, 400);
  });

  test('too large response heads: 431; incomplete: undefined', () => {
    const text = 'HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(100) + '\r\n\r\n';
    const buf = Buffer.from(text);
    expect(parseResponseHead(buf, 0, { maxHeaderBytes: 50, maxHeaders: 10 })).toEqual({ status: 431, reason: 'response head too large' });
    for (let cut = 0; cut < buf.length; cut++) expect(parseResponseHead(buf.subarray(0, cut), 0, LIMITS)).toBeUndefined();
    expect(parseResponseHead(buf, 0, LIMITS)).toMatchObject({ status: 200, length: buf.length });
  });
});

describe('headers match node:http IncomingMessage.headers', () => {
  const heads = [
    TYPICAL,
    'GET / HTTP/1.1\r\nHost: a\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Dup: 1\r\nx-dup:  2 \r\nX-Dup:\t3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: one\r\nUser-Agent: two\r\nReferer: r1\r\nReferer: r2\r\nCookie: c1\r\nCookie: c2\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a1\r\nAuthorization: a2\r\nContent-Type: t1\r\nContent-Type: t2\r\nETag: e1\r\nETag: e2\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nFrom: f1\r\nFrom: f2\r\nMax-Forwards: 1\r\nMax-Forwards: 2\r\nProxy-Authorization: p1\r\nProxy-Authorization: p2\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nAccept: a\r\naccept: b\r\nVia: 1.1 x\r\nVia: 1.1 y\r\nX-Empty:\r\nX-Empty: z\r\nConstructor: c\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: x\r\nIf-Modified-Since: y\r\nLast-Modified: l\r\nLast-Modified: m\r\nLocation: a\r\nLocation: b\r\n\r\n',
  ];

  test('for a set of valid heads', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((rq, rs) => {
      seen.push(rq.headers);
      rs.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      for (const text of heads) {
        const before = seen.length;
        await new Promise<void>((resolve, reject) => {
          const sock = net.connect(port, '127.0.0.1', () => sock.write(text.replace('Connection: keep-alive, X-Foo', 'Connection: close, X-Foo')));
          sock.on('data', () => sock.end());
          sock.on('close', () => resolve());
          sock.on('error', reject);
        });
        expect(seen.length).toBe(before + 1);
        const ours = ok(text.replace('Connection: keep-alive, X-Foo', 'Connection: close, X-Foo')).headers;
        expect(ours).toEqual({ ...seen[before] });
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
