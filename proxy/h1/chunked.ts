/**
 * The chunked transfer coding (RFC 9112 §7.1): an incremental, strict decoder and the two framing
 * helpers an encoder needs. Like the head parser, anything a second parser could read differently
 * (bare LF, oversized sizes, junk after the data) is a framing error, never repaired.
 */

/** Receives the payload of a chunked body as it is decoded. */
export interface ChunkSink {
  onData(chunk: Buffer): void;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const SEMI = 0x3b;
const COLON = 0x3a;

const MAX_SIZE_DIGITS = 12;
const MAX_CHUNK_LINE = 1024;

/** Hex digit values; -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
/** tchar (RFC 9110 §5.6.2) for trailer field names. */
const TCHAR = new Uint8Array(256);
/** Field-value bytes (VCHAR, obs-text, SP, HTAB). */
const FIELD_VCHAR = new Uint8Array(256);
{
  for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    HEX[0x41 + c] = 10 + c;
    HEX[0x61 + c] = 10 + c;
  }
  for (const ch of "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
  for (let c = 0x21; c <= 0xff; c++) if (c !== 0x7f) FIELD_VCHAR[c] = 1;
  FIELD_VCHAR[SP] = 1;
  FIELD_VCHAR[HTAB] = 1;
}

const enum State {
  Size, // chunk-size digits
  ExtNameStart, // after ';': a chunk-ext-name (token)
  ExtName,
  ExtValueStart, // after '=': a token or a quoted-string
  ExtToken,
  ExtQuoted,
  ExtQuotedPair, // after '\\' in a quoted-string
  ExtAfterQuoted, // after the closing '"': ';' or CR
  SizeLf, // LF ending the chunk line
  Data,
  DataCr,
  DataLf,
  TrailerLineStart, // a field line or the final CRLF
  TrailerName,
  TrailerValue,
  TrailerLf, // LF ending a field line
  FinalLf, // LF of the CRLF that ends the body
  Done,
  Failed,
}

/** Incremental decoder of one chunked body (RFC 9112 §7.1), fed as bytes arrive; reusable via reset(). */
export class ChunkedDecoder {
  private readonly maxTrailerBytes: number;
  private readonly maxTrailers: number;
  private state = State.Size;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private remaining = 0;
  private total = 0;
  private failure: string | undefined = undefined;
  // The trailer section is rare and small: its validated bytes are copied here and split at the end.
  private trailerBuf: Buffer | undefined = undefined;
  private trailerLen = 0;
  private trailerCount = 0;
  private trailerFields: string[] | undefined = undefined;

  constructor(limits: { maxTrailerBytes: number; maxTrailers: number }) {
    this.maxTrailerBytes = limits.maxTrailerBytes;
    this.maxTrailers = limits.maxTrailers;
  }

  /** Trailer fields of the completed body as [lower-cased name, value, ...]; undefined when none. */
  get trailers(): string[] | undefined {
    return this.trailerFields;
  }

  /** Why the body was refused, once feed() returned -2. */
  get error(): string | undefined {
    return this.failure;
  }

  /** Total payload bytes so far (callers enforce body limits with it). */
  get received(): number {
    return this.total;
  }

  /** Makes the decoder ready for the next body. */
  reset(): void {
    this.state = State.Size;
    this.size = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.remaining = 0;
    this.total = 0;
    this.failure = undefined;
    this.trailerLen = 0;
    this.trailerCount = 0;
    this.trailerFields = undefined;
  }

  /**
   * Decodes from buf[offset..]; payload slices go to sink.onData (subarrays, no copies). Returns the
   * index just past the end of the body (last-chunk + trailers + final CRLF) once complete, -1 when
   * every byte was consumed and more are needed, or -2 on a framing error (then `error` says why).
   * Bytes after the end belong to the next message and are not consumed.
   */
  feed(buf: Buffer, offset: number, sink: ChunkSink): number {
    const len = buf.length;
    let i = offset;
    while (i < len) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.remaining, len - i);
          this.remaining -= take;
          this.total += take;
          sink.onData(buf.subarray(i, i + take));
          i += take;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.Size: {
          const c = buf[i];
          const h = HEX[c];
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail('chunk size too long');
            this.size = this.size * 16 + h;
          } else if (this.digits === 0) {
            return this.fail('invalid chunk size');
          } else if (c === CR) {
            this.state = State.SizeLf;
          } else if (c === SEMI) {
            this.state = State.ExtNameStart;
          } else {
            // No whitespace after the size (RFC 9112's BWS before ';' included): llhttp refuses it,
            // and a parser in front of it must not be laxer.
            return this.fail(c === LF ? 'bare LF' : c === SP || c === HTAB ? 'whitespace after chunk size' : 'invalid chunk size');
          }
          if (++this.lineBytes > MAX_CHUNK_LINE) return this.fail('chunk line too long');
          i++;
          break;
        }
        case State.ExtNameStart:
        case State.ExtName:
        case State.ExtValueStart:
        case State.ExtToken:
        case State.ExtQuoted:
        case State.ExtQuotedPair:
        case State.ExtAfterQuoted: {
          // chunk-ext = *( ";" token [ "=" ( token / quoted-string ) ] ), strictly (no BWS):
          // extensions carry nothing Weft uses, but two parsers must agree on where the line ends.
          const next = extStep(this.state, buf[i]);
          if (next === State.Failed) return this.fail(buf[i] === LF ? 'bare LF' : 'invalid chunk extension');
          this.state = next;
          if (++this.lineBytes > MAX_CHUNK_LINE) return this.fail('chunk line too long');
          i++;
          break;
        }
        case State.SizeLf:
          if (buf[i] !== LF) return this.fail('bare CR');
          i++;
          this.lineBytes = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = State.TrailerLineStart;
          } else {
            this.remaining = this.size;
            this.size = 0;
            this.state = State.Data;
          }
          break;
        case State.DataCr:
          if (buf[i] !== CR) return this.fail(buf[i] === LF ? 'bare LF' : 'missing CRLF after chunk data');
          i++;
          this.state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[i] !== LF) return this.fail('bare CR');
          i++;
          this.state = State.Size;
          break;
        case State.TrailerLineStart: {
          const c = buf[i];
          if (c === CR) {
            this.state = State.FinalLf;
          } else if (c === LF) {
            return this.fail('bare LF');
          } else if (c === SP || c === HTAB) {
            return this.fail('obs-fold in trailer');
          } else if (TCHAR[c] === 1) {
            if (++this.trailerCount > this.maxTrailers) return this.fail('too many trailer fields');
            if (!this.keepTrailerByte(c)) return -2;
            this.state = State.TrailerName;
          } else {
            return this.fail(c === COLON ? 'empty trailer field name' : 'invalid trailer field name');
          }
          i++;
          break;
        }
        case State.TrailerName: {
          const c = buf[i];
          if (c === COLON) this.state = State.TrailerValue;
          else if (TCHAR[c] !== 1) return this.fail(c === SP || c === HTAB ? 'whitespace before colon' : c === LF ? 'bare LF' : 'invalid trailer field name');
          if (!this.keepTrailerByte(c)) return -2;
          i++;
          break;
        }
        case State.TrailerValue: {
          const c = buf[i];
          if (c === CR) this.state = State.TrailerLf;
          else if (FIELD_VCHAR[c] !== 1) return this.fail(c === LF ? 'bare LF' : 'control character in trailer');
          if (!this.keepTrailerByte(c)) return -2;
          i++;
          break;
        }
        case State.TrailerLf:
          if (buf[i] !== LF) return this.fail('bare CR');
          if (!this.keepTrailerByte(LF)) return -2;
          i++;
          this.state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          if (buf[i] !== LF) return this.fail('bare CR');
          i++;
          this.finishTrailers();
          this.state = State.Done;
          return i;
        case State.Done:
          return i;
        case State.Failed:
          return -2;
      }
    }
    if (this.state === State.Done) return i;
    return this.state === State.Failed ? -2 : -1;
  }

  private fail(reason: string): number {
    this.failure = reason;
    this.state = State.Failed;
    return -2;
  }

  private keepTrailerByte(c: number): boolean {
    if (this.trailerLen >= this.maxTrailerBytes) {
      this.fail('trailers too large');
      return false;
    }
    let tb = this.trailerBuf;
    if (tb === undefined || this.trailerLen === tb.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxTrailerBytes, Math.max(256, this.trailerLen * 2)));
      if (tb !== undefined) tb.copy(grown, 0, 0, this.trailerLen);
      this.trailerBuf = tb = grown;
    }
    tb[this.trailerLen++] = c;
    return true;
  }

  /** Splits the validated trailer lines ("name:value\r\n" each) into [lower-cased name, trimmed value, ...]. */
  private finishTrailers(): void {
    const tb = this.trailerBuf;
    if (this.trailerLen === 0 || tb === undefined) return;
    const out: string[] = [];
    let k = 0;
    while (k < this.trailerLen) {
      const colon = tb.indexOf(COLON, k);
      const cr = tb.indexOf(CR, colon);
      let vs = colon + 1;
      let ve = cr;
      while (vs < ve && (tb[vs] === SP || tb[vs] === HTAB)) vs++;
      while (ve > vs && (tb[ve - 1] === SP || tb[ve - 1] === HTAB)) ve--;
      out.push(tb.toString('latin1', k, colon).toLowerCase(), tb.toString('latin1', vs, ve));
      k = cr + 2;
    }
    this.trailerFields = out;
  }
}

/** The chunk framing for one payload piece: returns the size line ("<hex>\r\n"); the caller writes line, data, "\r\n". */
/** quoted-string text (RFC 9110 §5.6.4): HTAB, SP, VCHAR but '"' and '\\', obs-text. */
const QDTEXT = new Uint8Array(256);
for (let c = 0; c < 256; c++) QDTEXT[c] = c === HTAB || c === SP || (c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x5c) || c >= 0x80 ? 1 : 0;

/** The chunk-extension grammar, one byte at a time: the next state, or Failed. */
function extStep(state: State, c: number): State {
  switch (state) {
    case State.ExtNameStart:
      return TCHAR[c] === 1 ? State.ExtName : State.Failed;
    case State.ExtName:
      if (TCHAR[c] === 1) return State.ExtName;
      return c === 0x3d /* = */ ? State.ExtValueStart : c === SEMI ? State.ExtNameStart : c === CR ? State.SizeLf : State.Failed;
    case State.ExtValueStart:
      return TCHAR[c] === 1 ? State.ExtToken : c === 0x22 /* " */ ? State.ExtQuoted : State.Failed;
    case State.ExtToken:
      if (TCHAR[c] === 1) return State.ExtToken;
      return c === SEMI ? State.ExtNameStart : c === CR ? State.SizeLf : State.Failed;
    case State.ExtQuoted:
      if (c === 0x22) return State.ExtAfterQuoted;
      if (c === 0x5c /* \\ */) return State.ExtQuotedPair;
      return QDTEXT[c] === 1 ? State.ExtQuoted : State.Failed;
    case State.ExtQuotedPair:
      return c === HTAB || c === SP || (c >= 0x21 && c !== 0x7f) ? State.ExtQuoted : State.Failed;
    default:
      return c === SEMI ? State.ExtNameStart : c === CR ? State.SizeLf : State.Failed;
  }
}

export function chunkHeader(length: number): string {
  // A zero size would be the last-chunk and end the body early: that is a caller bug, not data.
  if (!Number.isSafeInteger(length) || length <= 0) throw new RangeError(`chunk length must be a positive integer, got: ${length}`);
  return length.toString(16) + '\r\n';
}

/**
 * The last-chunk with optional trailers [name, value, ...]: "0\r\n" + fields + "\r\n". A field whose value
 * contains CR/LF (or any other byte not allowed in a field value) or whose name is not a token is dropped.
 */
export function lastChunk(trailers?: readonly string[]): string {
  if (trailers === undefined || trailers.length === 0) return '0\r\n\r\n';
  let out = '0\r\n';
  for (let k = 0; k + 1 < trailers.length; k += 2) {
    const name = trailers[k];
    const value = trailers[k + 1];
    if (!isToken(name) || !isFieldValue(value)) continue;
    out += name + ': ' + value + '\r\n';
  }
  return out + '\r\n';
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

function isFieldValue(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 0xff || FIELD_VCHAR[c] !== 1) return false;
  }
  return true;
}
