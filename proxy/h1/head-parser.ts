/**
 * Strict HTTP/1.1 message-head parser (RFC 9110 / RFC 9112) for the sidecar's own HTTP engine.
 *
 * The sidecar sits between untrusted peers and applications, so anything two parsers could read
 * differently (bare LF, obs-fold, whitespace before the colon, conflicting Content-Length,
 * Transfer-Encoding other than exactly `chunked`) is refused rather than repaired. It is also the
 * hottest code in the proxy: one pass over the bytes with table lookups, strings produced only for
 * what callers read, and no closures or regexes in the per-field loop.
 */

export interface HeadLimits {
  /** Bytes of the whole head (request/status line + fields + the blank line). Over it: 431 (requests). */
  maxHeaderBytes: number;
  /** Field lines. Over it: 431. */
  maxHeaders: number;
}

/**
 * A refusal: 400 (syntax, framing, smuggling shapes) or 431 (too large / too many); `reason` is for
 * logs and tests, e.g. 'bare LF', 'duplicate Host', 'Transfer-Encoding with Content-Length'.
 */
export interface HeadFailure {
  readonly status: 400 | 431;
  readonly reason: string;
}

export interface MessageHead {
  versionMinor: 0 | 1;
  /** Field names as sent and values with OWS trimmed: [name, value, name, value, ...] */
  rawHeaders: string[];
  /**
   * Lower-cased names with node:http's IncomingMessage.headers semantics (set-cookie an array,
   * singleton fields keep the first value, cookie joined with '; ', others with ', '). A field named
   * `__proto__` is refused with 400 rather than stored, so the object's prototype can never change.
   */
  headers: Record<string, string | string[]>;
  /** Declared Content-Length, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding: chunked. */
  chunked: boolean;
  /** Persistence per RFC 9112 §9.3: HTTP/1.1 unless a `close` token in Connection; HTTP/1.0 only with a `keep-alive` token. */
  keepAlive: boolean;
  /** Connection lists the `upgrade` token AND an Upgrade field is present. */
  upgrade: boolean;
  /** Lower-cased tokens listed in Connection other than close, keep-alive and upgrade (fields to drop at a proxy); undefined when none. */
  connectionListed: string[] | undefined;
  /** Bytes consumed from the offset given, through the blank line that ends the head. */
  length: number;
}

export interface RequestHead extends MessageHead {
  method: string;
  target: string;
  /**
   * Expect is exactly `100-continue` (case-insensitive). Any other Expect value leaves this false
   * and passes through untouched: answering 417 is the application's call, not the proxy's.
   */
  expectContinue: boolean;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

class Refusal implements HeadFailure {
  constructor(
    readonly status: 400 | 431,
    readonly reason: string,
  ) {}
}

/** True for the refusals returned by the parse functions (cheap: one prototype check). */
export function isHeadFailure(x: unknown): x is HeadFailure {
  return x instanceof Refusal;
}

// Not in @types/node, but a public Buffer method since Node 0.x; cheaper than toString('latin1', ...).
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** tchar (RFC 9110 §5.6.2): 1 when allowed in a token (method, field name). */
const TCHAR = new Uint8Array(256);
/** Field-value bytes (VCHAR, obs-text, SP, HTAB): 1 when allowed. */
const FIELD_VCHAR = new Uint8Array(256);
/** Host value bytes: reg-name (minus ','), IP-literal and port characters. */
const HOST_CHAR = new Uint8Array(256);
{
  for (let c = 0x21; c <= 0x7e; c++) FIELD_VCHAR[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) FIELD_VCHAR[c] = 1;
  FIELD_VCHAR[SP] = 1;
  FIELD_VCHAR[HTAB] = 1;
  const alnum = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const ch of alnum + "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
  for (const ch of alnum + "-._~%!$&'()*+;=:[]") HOST_CHAR[ch.charCodeAt(0)] = 1;
}

// How a field affects framing or the headers object; anything else is KIND_OTHER (joined with ', ').
const KIND_OTHER = 0;
const KIND_FIRST = 1; // node:http keeps the first of duplicates
const KIND_SET_COOKIE = 2;
const KIND_COOKIE = 3;
const KIND_HOST = 4;
const KIND_CONTENT_LENGTH = 5;
const KIND_TRANSFER_ENCODING = 6;
const KIND_CONNECTION = 7;
const KIND_UPGRADE = 8;
const KIND_EXPECT = 9;
const KIND_PROTO = 10;

const KINDS = new Map<string, number>([
  ['set-cookie', KIND_SET_COOKIE],
  ['cookie', KIND_COOKIE],
  ['host', KIND_HOST],
  ['content-length', KIND_CONTENT_LENGTH],
  ['transfer-encoding', KIND_TRANSFER_ENCODING],
  ['connection', KIND_CONNECTION],
  ['upgrade', KIND_UPGRADE],
  ['expect', KIND_EXPECT],
  ['__proto__', KIND_PROTO],
]);
for (const name of [
  'age', 'authorization', 'content-type', 'etag', 'expires', 'from', 'if-modified-since', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]) {
  KINDS.set(name, KIND_FIRST);
}

// Frequent names without a special kind: matching them against this table yields an interned
// lower-case key without toLowerCase() or hashing a fresh string (the bulk of per-field cost).
const COMMON_NAMES = [
  'accept', 'accept-encoding', 'accept-language', 'cache-control', 'date', 'vary', 'x-request-id', 'x-forwarded-for',
  'x-forwarded-proto', 'x-amzn-trace-id', 'traceparent', 'tracestate', 'origin', 'pragma', 'te', 'via', 'keep-alive',
  'content-encoding', 'accept-ranges', 'last-event-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'grpc-timeout',
];

interface KnownName {
  lower: string;
  bytes: Uint8Array;
  kind: number;
}

/** Known names by length, for matching straight from the buffer. */
const KNOWN_BY_LENGTH: KnownName[][] = [];
const KNOWN_ENTRIES = [...KINDS].filter(([n]) => n !== '__proto__').concat(COMMON_NAMES.map((n): [string, number] => [n, KIND_OTHER]));
for (const [lower, kind] of KNOWN_ENTRIES) {
  (KNOWN_BY_LENGTH[lower.length] ??= []).push({ lower, bytes: Buffer.from(lower, 'latin1'), kind });
}

/**
 * The known name at buf[start..end), compared ASCII case-insensitively, or undefined. `| 0x20` is
 * exact here: known names hold only a-z and '-', and no other tchar folds onto those.
 */
function knownName(buf: Buffer, start: number, end: number): KnownName | undefined {
  const candidates = KNOWN_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  next: for (let c = 0; c < candidates.length; c++) {
    const k = candidates[c];
    const bytes = k.bytes;
    for (let j = 0; j < bytes.length; j++) if ((buf[start + j] | 0x20) !== bytes[j]) continue next;
    return k;
  }
  return undefined;
}

const MAX_LEADING_EMPTY_LINES = 4;

/** Scratch for phase 1: [nameStart, nameEnd, valueStart, valueEnd] per field, relative to the offset; parsing is synchronous, so one suffices. */
let positions = new Int32Array(100 * 4);
const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * Where the parse of a head that arrives in pieces stopped, so that the next piece resumes there
 * instead of at the head's first byte: a head dripped a few bytes at a time would otherwise cost
 * time quadratic in its size (60 KB in 10-byte reads: ~180 MB scanned). One per connection;
 * {@link reset} before each new head. Field lines already validated are not scanned again, and
 * while no line end has arrived since the last parse, nothing is parsed at all (no line can
 * complete without its LF), so every byte is scanned a bounded number of times.
 */
export class HeadScan {
  /** Bytes this scan examined (parser loops and line-end searches), for stats and tests. */
  scanned = 0;
  // The rest is the parser's resume state; nothing else reads it.
  /** Offset, from the head's start, of the first field line not yet validated; 0: the start line is not parsed yet. */
  lineStart = 0;
  /** Offset from the head's start where the search for a line end resumes; 0: no parse has stopped yet. */
  lfFrom = 0;
  count = 0;
  /** Copies of the validated field positions (the shared scratch belongs to whichever head parses next). */
  pos: Int32Array | undefined;
  /** The start line's parts (see START_LINE), relative to the head's start. */
  a = 0;
  b = 0;
  c = 0;
  d = 0;
  version: 0 | 1 = 1;
  status = 0;

  /** Forgets the stopped parse (a new head begins). */
  reset(): void {
    this.lineStart = 0;
    this.lfFrom = 0;
    this.count = 0;
  }
}

/** Parses a request head at buf[offset..]; see {@link HeadFailure} for what is refused and why. `scan` resumes a head that arrived in pieces. */
export function parseRequestHead(buf: Buffer, offset: number, limits: HeadLimits, scan?: HeadScan): RequestHead | HeadFailure | undefined {
  return parseHead(buf as Latin1Buffer, offset, limits, true, scan) as RequestHead | HeadFailure | undefined;
}

/** Parses a response head at buf[offset..]; failures are 400 (the caller maps them to 502) or 431 when too large. */
export function parseResponseHead(buf: Buffer, offset: number, limits: HeadLimits, scan?: HeadScan): ResponseHead | HeadFailure | undefined {
  return parseHead(buf as Latin1Buffer, offset, limits, false, scan) as ResponseHead | HeadFailure | undefined;
}

function incomplete(buf: Buffer, offset: number, limits: HeadLimits, isRequest: boolean): HeadFailure | undefined {
  return buf.length - offset > limits.maxHeaderBytes ? new Refusal(431, isRequest ? 'head too large' : 'response head too large') : undefined;
}
/** Why the byte at `i` ended a line badly: used when a scan stops on something other than CR LF. */
function lineError(buf: Buffer, i: number): Refusal {
  const c = buf[i];
  if (c === LF) return new Refusal(400, 'bare LF');
  if (c === CR) return new Refusal(400, 'bare CR');
  if (c === 0) return new Refusal(400, 'NUL byte');
  return new Refusal(400, 'control character');
}

function parseHead(buf: Latin1Buffer, offset: number, limits: HeadLimits, isRequest: boolean, scan: HeadScan | undefined): RequestHead | ResponseHead | HeadFailure | undefined {
  const len = buf.length;
  // Scans never look past the limit, so a huge garbage buffer costs at most maxHeaderBytes of work.
  const end = Math.min(len, offset + limits.maxHeaderBytes);
  const state = scan;
  if (state === undefined || state.lfFrom === 0) return parseStartLine(buf, offset, end, limits, isRequest, state);
  // A parse stopped on an incomplete line: until a line end arrives there is nothing new to judge.
  const from = offset + state.lfFrom;
  const lf = from < end ? buf.indexOf(LF, from) : -1;
  if (lf < 0 || lf >= end) {
    state.scanned += Math.max(0, end - from);
    state.lfFrom = Math.max(state.lfFrom, end - offset);
    return incomplete(buf, offset, limits, isRequest);
  }
  state.scanned += lf + 1 - from;
  if (state.lineStart === 0) return parseStartLine(buf, offset, end, limits, isRequest, state);
  const line = START_LINE;
  line.a = offset + state.a;
  line.b = offset + state.b;
  line.c = offset + state.c;
  line.d = offset + state.d;
  line.version = state.version;
  line.status = state.status;
  if (positions.length < limits.maxHeaders * 4) positions = new Int32Array(limits.maxHeaders * 4);
  if (state.count > 0) positions.set(state.pos!.subarray(0, state.count * 4));
  return parseFields(buf, offset, end, limits, isRequest, state, offset + state.lineStart, state.count);
}

/**
 * The start line's parts, as absolute positions: method and target (a..b, c..d) of a request, or
 * the reason phrase (a..b) of a response. One shared object: parsing is synchronous.
 */
const START_LINE = { a: 0, b: 0, c: 0, d: 0, version: 1 as 0 | 1, status: 0 };

/** Records where an incomplete head stopped, so that the next call resumes at `lineStart`. */
function stopAt(buf: Buffer, offset: number, end: number, limits: HeadLimits, isRequest: boolean, state: HeadScan | undefined, scanFrom: number, lineStart: number, count: number): HeadFailure | undefined {
  if (state !== undefined) {
    state.scanned += end - scanFrom;
    state.lfFrom = end - offset;
    if (lineStart > offset) {
      const line = START_LINE;
      state.lineStart = lineStart - offset;
      state.count = count;
      state.a = line.a - offset;
      state.b = line.b - offset;
      state.c = line.c - offset;
      state.d = line.d - offset;
      state.version = line.version;
      state.status = line.status;
      if (count > 0) {
        if (state.pos === undefined || state.pos.length < count * 4) state.pos = new Int32Array(limits.maxHeaders * 4);
        state.pos.set(positions.subarray(0, count * 4));
      }
    }
  }
  return incomplete(buf, offset, limits, isRequest);
}

/** Parses the start line (and the empty lines a request may have before it), then the field lines. */
function parseStartLine(buf: Latin1Buffer, offset: number, end: number, limits: HeadLimits, isRequest: boolean, state: HeadScan | undefined): RequestHead | ResponseHead | HeadFailure | undefined {
  let i = offset;
  const stop = (): HeadFailure | undefined => stopAt(buf, offset, end, limits, isRequest, state, offset, offset, 0);
  const line = START_LINE;

  if (isRequest) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    let empty = 0;
    while (i < end && buf[i] === CR) {
      if (i + 1 >= end) return stop();
      if (buf[i + 1] !== LF) return new Refusal(400, 'bare CR');
      if (++empty > MAX_LEADING_EMPTY_LINES) return new Refusal(400, 'too many empty lines before the request-line');
      i += 2;
    }
    if (i < end && buf[i] === LF) return new Refusal(400, 'bare LF');
    line.a = i;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i >= end) return stop();
    if (buf[i] !== SP || i === line.a) return new Refusal(400, 'invalid method');
    line.b = i;
    line.c = ++i;
    while (i < end) {
      const c = buf[i];
      if (c < 0x21 || c > 0x7e) break;
      i++;
    }
    if (i >= end) return stop();
    if (buf[i] !== SP || i === line.c) return new Refusal(400, 'invalid request-target');
    if (!requestTargetForm(buf, line.a, line.b, line.c, i)) return new Refusal(400, 'invalid request-target');
    line.d = i;
    i++;
    // "HTTP/1.x" CR LF
    if (i + 10 > end) {
      // Judge the bytes we have so a wrong version fails now rather than at the size limit.
      for (let k = i; k < end && k - i < 7; k++) if (buf[k] !== VERSION_PREFIX[k - i]) return new Refusal(400, 'invalid HTTP version');
      return stop();
    }
    const v = versionAt(buf, i);
    if (v < 0) return new Refusal(400, 'invalid HTTP version');
    line.version = v as 0 | 1;
    i += 8;
    if (buf[i] !== CR) return buf[i] === LF ? new Refusal(400, 'bare LF') : new Refusal(400, 'invalid request-line');
    if (buf[i + 1] !== LF) return new Refusal(400, 'bare CR');
    i += 2;
  } else {
    // "HTTP/1.x" SP 3DIGIT [ SP reason ] CR LF
    if (i + 14 > end) {
      for (let k = i; k < end && k - i < 7; k++) if (buf[k] !== VERSION_PREFIX[k - i]) return new Refusal(400, 'invalid status-line');
      return stop();
    }
    const v = versionAt(buf, i);
    if (v < 0 || buf[i + 8] !== SP) return new Refusal(400, 'invalid status-line');
    line.version = v as 0 | 1;
    const d0 = buf[i + 9] - 48;
    const d1 = buf[i + 10] - 48;
    const d2 = buf[i + 11] - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return new Refusal(400, 'invalid status code');
    line.status = d0 * 100 + d1 * 10 + d2;
    i += 12;
    line.a = line.b = i;
    if (buf[i] === SP) {
      line.a = ++i;
      while (i < end && FIELD_VCHAR[buf[i]] === 1) i++;
      if (i >= end) return stop();
      if (buf[i] !== CR) return lineError(buf, i);
      line.b = i;
    } else if (buf[i] !== CR) {
      return buf[i] === LF ? new Refusal(400, 'bare LF') : new Refusal(400, 'invalid status-line');
    }
    if (i + 1 >= end) return stop();
    if (buf[i + 1] !== LF) return new Refusal(400, 'bare CR');
    i += 2;
  }
  if (state !== undefined) state.scanned += i - offset;
  if (positions.length < limits.maxHeaders * 4) positions = new Int32Array(limits.maxHeaders * 4);
  return parseFields(buf, offset, end, limits, isRequest, state, i, 0);
}

/** Validates the field lines from `i` (the `count` before it already validated), then builds the head. */
function parseFields(
  buf: Latin1Buffer,
  offset: number,
  end: number,
  limits: HeadLimits,
  isRequest: boolean,
  state: HeadScan | undefined,
  i: number,
  count: number,
): RequestHead | ResponseHead | HeadFailure | undefined {
  // Phase 1 validates the syntax and records where each field's name and value are, without
  // making strings: an incomplete head or a refused one costs no garbage.
  const maxHeaders = limits.maxHeaders;
  const pos = positions;
  const scanFrom = i;

  for (;;) {
    const lineStart = i;
    if (i >= end) return stopAt(buf, offset, end, limits, isRequest, state, scanFrom, lineStart, count);
    let c = buf[i];
    if (c === CR) {
      if (i + 1 >= end) return stopAt(buf, offset, end, limits, isRequest, state, scanFrom, lineStart, count);
      if (buf[i + 1] !== LF) return new Refusal(400, 'bare CR');
      i += 2;
      break;
    }
    if (c === SP || c === HTAB) return new Refusal(400, 'obs-fold');
    if (count >= maxHeaders) return new Refusal(431, 'too many header fields');

    // field-name: 1*tchar immediately followed by ':'
    const nStart = i;
    while (i < end && TCHAR[(c = buf[i])] === 1) i++;
    if (i >= end) return stopAt(buf, offset, end, limits, isRequest, state, scanFrom, lineStart, count);
    if (c !== COLON) {
      if (c === SP || c === HTAB) return new Refusal(400, 'whitespace before colon');
      if (c === LF || c === CR || c === 0) return lineError(buf, i);
      return new Refusal(400, 'invalid field name');
    }
    if (i === nStart) return new Refusal(400, 'empty field name');
    const nEnd = i++;

    // field-value: OWS *(value bytes) OWS, trimmed both ends
    while (i < end && ((c = buf[i]) === SP || c === HTAB)) i++;
    const vStart = i;
    let vEnd = i;
    while (i < end) {
      c = buf[i];
      if (FIELD_VCHAR[c] !== 1) break;
      if (c !== SP && c !== HTAB) vEnd = i + 1;
      i++;
    }
    if (i >= end) return stopAt(buf, offset, end, limits, isRequest, state, scanFrom, lineStart, count);
    if (c !== CR) return lineError(buf, i);
    if (i + 1 >= end) return stopAt(buf, offset, end, limits, isRequest, state, scanFrom, lineStart, count);
    if (buf[i + 1] !== LF) return new Refusal(400, 'bare CR');
    i += 2;

    const p = count++ * 4;
    pos[p] = nStart - offset;
    pos[p + 1] = nEnd - offset;
    pos[p + 2] = vStart - offset;
    pos[p + 3] = vEnd - offset;
  }
  const headEnd = i;
  if (state !== undefined) state.scanned += headEnd - scanFrom;
  return buildHead(buf, offset, headEnd, count, isRequest);
}

/** Phase 2: the validated head as strings and a header object, with the framing rules applied. */
function buildHead(buf: Latin1Buffer, offset: number, headEnd: number, count: number, isRequest: boolean): RequestHead | ResponseHead | HeadFailure {
  const pos = positions;
  const line = START_LINE;
  const versionMinor = line.version;
  // Phase 2: one native slice of the whole head; names and values are cheap substrings of it.
  const text = buf.latin1Slice(offset, headEnd);
  const rawHeaders: string[] = [];
  const headers: Record<string, string | string[]> = {};
  let contentLength = -1;
  let hostCount = 0;
  let teCount = 0;
  let chunked = false;
  let closeToken = false;
  let keepAliveToken = false;
  let upgradeToken = false;
  let upgradeField = false;
  let expectContinue = false;
  let connectionListed: string[] | undefined;

  for (let f = 0; f < count; f++) {
    const p = f * 4;
    const vStart = pos[p + 2] + offset;
    const vEnd = pos[p + 3] + offset;
    const name = text.slice(pos[p], pos[p + 1]);
    const value = vEnd === vStart ? '' : text.slice(pos[p + 2], pos[p + 3]);
    rawHeaders.push(name, value);
    const known = knownName(buf, pos[p] + offset, pos[p + 1] + offset);
    let lname: string;
    let kind: number | undefined;
    if (known !== undefined) {
      lname = known.lower;
      kind = known.kind;
    } else {
      lname = name.toLowerCase();
      // '__proto__' is deliberately not in the byte table: it is found here.
      kind = KINDS.get(lname);
    }

    if (kind === undefined || kind === KIND_OTHER) {
      addJoined(headers, lname, value, ', ');
      continue;
    }
    switch (kind) {
      case KIND_FIRST:
        if (!Object.hasOwn(headers, lname)) headers[lname] = value;
        break;
      case KIND_SET_COOKIE: {
        const prev = Object.hasOwn(headers, lname) ? headers[lname] : undefined;
        if (prev === undefined) headers[lname] = [value];
        else (prev as string[]).push(value);
        break;
      }
      case KIND_COOKIE:
        addJoined(headers, lname, value, '; ');
        break;
      case KIND_HOST:
        if (!isRequest) {
          if (!Object.hasOwn(headers, lname)) headers[lname] = value;
          break;
        }
        if (++hostCount > 1) return new Refusal(400, 'duplicate Host');
        if (!validHost(buf, vStart, vEnd)) return new Refusal(400, 'invalid Host');
        headers[lname] = value;
        break;
      case KIND_CONTENT_LENGTH: {
        // RFC 9110 §8.6 lets a recipient accept a list of equal values ("5, 5") or repeated equal
        // fields. llhttp (and so node:http) refuses both in requests, and the sidecar's request
        // parser, in front of such servers, must not be laxer: one field, digits only. A response
        // comes from the app or a cluster the mesh owns: equal values collapse to one there.
        if (isRequest) {
          if (contentLength >= 0) return new Refusal(400, 'duplicate Content-Length');
          const n = parseContentLength(buf, vStart, vEnd);
          if (n < 0 || tabAfter(buf, vEnd)) return new Refusal(400, 'invalid Content-Length');
          headers[lname] = value;
          contentLength = n;
          break;
        }
        const n = parseContentLengthList(buf, vStart, vEnd);
        if (n < 0) return new Refusal(400, 'invalid Content-Length');
        if (contentLength >= 0 && n !== contentLength) return new Refusal(400, 'conflicting Content-Length');
        if (contentLength < 0) headers[lname] = String(n);
        contentLength = n;
        break;
      }
      case KIND_TRANSFER_ENCODING:
        // Only a single `chunked` is accepted, so any second field line can never be valid.
        if (++teCount > 1) return new Refusal(400, 'duplicate Transfer-Encoding');
        if (!isChunked(buf, vStart, vEnd)) return new Refusal(400, 'unsupported Transfer-Encoding');
        if (tabAfter(buf, vEnd)) return new Refusal(400, 'unsupported Transfer-Encoding');
        chunked = true;
        headers[lname] = value;
        break;
      case KIND_CONNECTION: {
        const r = scanConnection(buf, vStart, vEnd);
        if (r < 0 || tabAfter(buf, vEnd)) return new Refusal(400, 'invalid Connection token');
        if (r & CONN_CLOSE) closeToken = true;
        if (r & CONN_KEEP_ALIVE) keepAliveToken = true;
        if (r & CONN_UPGRADE) upgradeToken = true;
        if (r & CONN_OTHER) connectionListed = listConnection(value, connectionListed);
        addJoined(headers, lname, value, ', ');
        break;
      }
      case KIND_UPGRADE:
        upgradeField = true;
        addJoined(headers, lname, value, ', ');
        break;
      case KIND_EXPECT:
        if (isRequest && equalsIgnoreCase(buf, vStart, vEnd, EXPECT_100)) expectContinue = true;
        addJoined(headers, lname, value, ', ');
        break;
      case KIND_PROTO:
        return new Refusal(400, 'field name __proto__');
    }
  }

  if (chunked) {
    if (contentLength >= 0) return new Refusal(400, 'Transfer-Encoding with Content-Length');
    if (isRequest && versionMinor === 0) return new Refusal(400, 'Transfer-Encoding in HTTP/1.0');
  }
  if (isRequest && versionMinor === 1 && hostCount === 0) return new Refusal(400, 'missing Host');

  const keepAlive = versionMinor === 1 ? !closeToken : keepAliveToken && !closeToken;
  const upgrade = upgradeToken && upgradeField;
  const length = headEnd - offset;
  if (isRequest) {
    const method = methodString(text, line.a - offset, line.b - offset);
    const target = text.slice(line.c - offset, line.d - offset);
    const head: RequestHead = {
      versionMinor, rawHeaders, headers, contentLength, chunked, keepAlive, upgrade, connectionListed, length,
      method, target, expectContinue,
    };
    return head;
  }
  const head: ResponseHead = {
    versionMinor, rawHeaders, headers, contentLength, chunked, keepAlive, upgrade, connectionListed, length,
    status: line.status, reason: line.b === line.a ? '' : text.slice(line.a - offset, line.b - offset),
  };
  return head;
}

const VERSION_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."

/** 1 for "HTTP/1.1", 0 for "HTTP/1.0", -1 for anything else (including lower case). Needs 8 bytes. */
function versionAt(buf: Buffer, i: number): number {
  if (buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f || buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e) {
    return -1;
  }
  const m = buf[i + 7];
  return m === 0x31 ? 1 : m === 0x30 ? 0 : -1;
}

/** Common methods come back as literals so the hot path does not allocate them. */
function methodString(text: string, start: number, end: number): string {
  const m = text.slice(start, end);
  return m === 'GET' ? 'GET' : m === 'POST' ? 'POST' : m;
}

function addJoined(headers: Record<string, string | string[]>, lname: string, value: string, sep: string): void {
  const prev = headers[lname];
  // `prev` can be an Object.prototype member ('constructor', 'toString'): only an own value is a duplicate.
  if (prev === undefined || !Object.hasOwn(headers, lname)) headers[lname] = value;
  else headers[lname] = (prev as string) + sep + value;
}

/**
 * Whether a tab follows a field value (in its trailing whitespace). llhttp reads the framing
 * fields (Content-Length, Transfer-Encoding, Connection) with a tab there as invalid or as another
 * token, though RFC 9110 calls it OWS; Weft refuses them rather than read them otherwise.
 */
function tabAfter(buf: Buffer, vEnd: number): boolean {
  for (let k = vEnd; buf[k] === SP || buf[k] === HTAB; k++) if (buf[k] === HTAB) return true;
  return false;
}

/** Content-Length = 1*DIGIT, at most 15 digits; returns the number, or -1 when invalid. */
function parseContentLength(buf: Buffer, start: number, end: number): number {
  const digits = end - start;
  if (digits === 0 || digits > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let n = 0;
  for (let k = start; k < end; k++) {
    const c = buf[k];
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/**
 * A response's Content-Length: 1*DIGIT or a list of equal values ("5, 5", RFC 9110 §8.6), each at
 * most 15 digits; returns the number, or -1 when invalid or the list disagrees.
 */
function parseContentLengthList(buf: Buffer, start: number, end: number): number {
  let result = -1;
  let k = start;
  for (;;) {
    const dStart = k;
    while (k < end && buf[k] >= 0x30 && buf[k] <= 0x39) k++;
    const n = parseContentLength(buf, dStart, k);
    if (n < 0 || (result >= 0 && n !== result)) return -1;
    result = n;
    if (k === end) return result;
    while (k < end && (buf[k] === SP || buf[k] === HTAB)) k++;
    if (k === end || buf[k] !== 0x2c) return -1;
    k++;
    while (k < end && (buf[k] === SP || buf[k] === HTAB)) k++;
  }
}

const CONNECT = [0x43, 0x4f, 0x4e, 0x4e, 0x45, 0x43, 0x54]; // "CONNECT" (methods are case-sensitive)

/** Bytes of an authority (RFC 3986 reg-name, IP literal, port): unreserved, pct-encoded, sub-delims, ':', '[', ']'. */
const AUTHORITY = new Uint8Array(256);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:[]") AUTHORITY[ch.charCodeAt(0)] = 1;

/**
 * One of RFC 9112 §3.2's four request-target forms, as llhttp reads them: origin-form (`/...`),
 * absolute-form (`scheme://...`), authority-form (`host:port`, CONNECT only) or asterisk-form
 * (`*`). The bytes are already VCHAR. Anything else (`GET x`, `GET http:#`) is refused: a target
 * that two parsers would split differently is a way past routing.
 */
function requestTargetForm(buf: Buffer, methodStart: number, methodEnd: number, start: number, end: number): boolean {
  let isConnect = methodEnd - methodStart === CONNECT.length;
  for (let k = 0; isConnect && k < CONNECT.length; k++) if (buf[methodStart + k] !== CONNECT[k]) isConnect = false;
  if (isConnect) {
    for (let k = start; k < end; k++) if (AUTHORITY[buf[k]] !== 1) return false;
    return true;
  }
  const first = buf[start];
  if (first === 0x2f /* / */) return true;
  if (first === 0x2a /* * */) return end - start === 1;
  // absolute-form as llhttp takes it: a scheme of letters only, "://", an authority (userinfo
  // allowed) up to the first '/' or '?', then anything (VCHAR already).
  let k = start;
  while (k < end && (buf[k] | 0x20) >= 0x61 && (buf[k] | 0x20) <= 0x7a) k++;
  if (k === start || end - k < 4 || buf[k] !== 0x3a || buf[k + 1] !== 0x2f || buf[k + 2] !== 0x2f) return false;
  for (k += 3; k < end && buf[k] !== 0x2f && buf[k] !== 0x3f; k++) if (AUTHORITY[buf[k]] !== 1 && buf[k] !== 0x40 /* @ */) return false;
  return true;
}

const CHUNKED = [0x63, 0x68, 0x75, 0x6e, 0x6b, 0x65, 0x64]; // "chunked"
const EXPECT_100 = [0x31, 0x30, 0x30, 0x2d, 0x63, 0x6f, 0x6e, 0x74, 0x69, 0x6e, 0x75, 0x65]; // "100-continue"
const CLOSE = [0x63, 0x6c, 0x6f, 0x73, 0x65];
const KEEP_ALIVE = [0x6b, 0x65, 0x65, 0x70, 0x2d, 0x61, 0x6c, 0x69, 0x76, 0x65];
const UPGRADE = [0x75, 0x70, 0x67, 0x72, 0x61, 0x64, 0x65];

/** ASCII case-insensitive comparison of buf[start..end) with a lower-case literal. */
function equalsIgnoreCase(buf: Buffer, start: number, end: number, lower: readonly number[]): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((buf[start + k] | 0x20) !== lower[k]) return false;
  return true;
}

function isChunked(buf: Buffer, start: number, end: number): boolean {
  return equalsIgnoreCase(buf, start, end, CHUNKED);
}

function validHost(buf: Buffer, start: number, end: number): boolean {
  if (end === start) return false;
  for (let k = start; k < end; k++) if (HOST_CHAR[buf[k]] !== 1) return false;
  return true;
}

const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;
const CONN_UPGRADE = 4;
const CONN_OTHER = 8;

/** Bit set of the Connection tokens present (CONN_*), or -1 when an element is not a token. Allocates nothing. */
function scanConnection(buf: Buffer, start: number, end: number): number {
  let bits = 0;
  let k = start;
  while (k < end) {
    while (k < end && (buf[k] === SP || buf[k] === HTAB || buf[k] === 0x2c)) k++;
    if (k === end) break;
    const tStart = k;
    while (k < end && TCHAR[buf[k]] === 1) k++;
    if (k === tStart) return -1;
    const tEnd = k;
    while (k < end && (buf[k] === SP || buf[k] === HTAB)) k++;
    if (k < end && buf[k] !== 0x2c) return -1;
    if (equalsIgnoreCase(buf, tStart, tEnd, CLOSE)) bits |= CONN_CLOSE;
    else if (equalsIgnoreCase(buf, tStart, tEnd, KEEP_ALIVE)) bits |= CONN_KEEP_ALIVE;
    else if (equalsIgnoreCase(buf, tStart, tEnd, UPGRADE)) bits |= CONN_UPGRADE;
    else bits |= CONN_OTHER;
  }
  return bits;
}

/** Adds the lower-cased tokens of a validated Connection value, other than the three handled by flags. Rare path. */
function listConnection(value: string, list: string[] | undefined): string[] {
  const out = list ?? [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    if (!out.includes(token)) out.push(token);
  }
  return out;
}
