/**
 * Reads the server name (SNI) out of a TLS ClientHello without terminating TLS, so transparent
 * egress can route an app's HTTPS by the name it asked for and pass the bytes through untouched.
 * The ClientHello may span several TLS records (large key shares), so handshake fragments are
 * reassembled up to {@link MAX_CLIENT_HELLO_BYTES}.
 */

/** Largest ClientHello (records included) the sniffer buffers before giving up. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;

export type ClientHelloResult =
  /** More bytes are needed to decide. */
  | { kind: 'incomplete' }
  /** Not a TLS ClientHello (or a malformed one). */
  | { kind: 'invalid'; reason: string }
  /** A ClientHello; `serverName` is lowercased, undefined when the client sent no SNI. */
  | { kind: 'client-hello'; serverName: string | undefined };

/** True when the first byte is a TLS handshake record (the cheap test before parsing). */
export function looksLikeTls(first: Buffer): boolean {
  return first.length > 0 && first[0] === RECORD_HANDSHAKE;
}

/** Parses the ClientHello at the start of `data` (everything the client sent so far). */
export function parseClientHello(data: Buffer): ClientHelloResult {
  const handshake = reassemble(data);
  if (handshake.kind !== 'ok') return handshake;
  return readClientHello(handshake.body);
}

type Reassembled = { kind: 'ok'; body: Buffer } | { kind: 'incomplete' } | { kind: 'invalid'; reason: string };

/** Concatenates handshake record payloads until the first handshake message is complete. */
function reassemble(data: Buffer): Reassembled {
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  let off = 0;
  while (true) {
    if (need >= 0 && have >= need) return { kind: 'ok', body: Buffer.concat(parts).subarray(4, need) };
    if (off + 5 > data.length) return data.length >= MAX_CLIENT_HELLO_BYTES ? { kind: 'invalid', reason: 'ClientHello too large' } : { kind: 'incomplete' };
    if (data[off] !== RECORD_HANDSHAKE) return { kind: 'invalid', reason: `record type ${data[off]} is not handshake` };
    if (data[off + 1] !== 0x03) return { kind: 'invalid', reason: 'not a TLS record version' };
    const len = data.readUInt16BE(off + 3);
    if (len === 0 || len > 16384 + 2048) return { kind: 'invalid', reason: `bad record length ${len}` };
    if (off + 5 + len > data.length) {
      return off + 5 + len > MAX_CLIENT_HELLO_BYTES ? { kind: 'invalid', reason: 'ClientHello too large' } : { kind: 'incomplete' };
    }
    parts.push(data.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid', reason: `handshake type ${head[0]} is not ClientHello` };
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO_BYTES) return { kind: 'invalid', reason: 'ClientHello too large' };
    }
  }
}

/** Walks a ClientHello body (after the 4-byte handshake header) to its server_name extension. */
function readClientHello(b: Buffer): ClientHelloResult {
  const bad = (reason: string): ClientHelloResult => ({ kind: 'invalid', reason: `malformed ClientHello: ${reason}` });
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > b.length) return bad('truncated before session id');
  p += 1 + b[p];
  if (p + 2 > b.length) return bad('truncated before cipher suites');
  p += 2 + b.readUInt16BE(p);
  if (p + 1 > b.length) return bad('truncated before compression methods');
  p += 1 + b[p];
  if (p === b.length) return { kind: 'client-hello', serverName: undefined }; // no extensions at all
  if (p + 2 > b.length) return bad('truncated extensions length');
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return bad('extensions overrun the message');
  p += 2;
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return bad('extension overruns the extensions block');
    if (type === EXT_SERVER_NAME) return readServerName(b.subarray(p, p + len), bad);
    p += len;
  }
  return { kind: 'client-hello', serverName: undefined };
}

function readServerName(ext: Buffer, bad: (reason: string) => ClientHelloResult): ClientHelloResult {
  if (ext.length < 2) return bad('empty server_name extension');
  const end = 2 + ext.readUInt16BE(0);
  if (end > ext.length) return bad('server_name list overruns the extension');
  let p = 2;
  while (p + 3 <= end) {
    const type = ext[p];
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + len > end) return bad('server name overruns the list');
    if (type === NAME_TYPE_HOST) {
      const name = ext.toString('latin1', p, p + len);
      // RFC 6066: a DNS hostname in ASCII, no trailing dot; anything else cannot name a service.
      if (!/^[A-Za-z0-9._-]{1,253}$/.test(name)) return bad('server name is not a DNS hostname');
      return { kind: 'client-hello', serverName: name.toLowerCase() };
    }
    p += len;
  }
  return { kind: 'client-hello', serverName: undefined };
}
