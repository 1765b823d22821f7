/**
 * Header hygiene between hops (RFC 9110 §7.6.1, RFC 9112): which fields never cross a proxy,
 * request identity (`x-request-id`), and the `X-Forwarded-*` chain. Runs per request, so it
 * walks each header block once and allocates only the outgoing header object.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';

/** Fields that describe one connection, not the message. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * Request fields rebuilt by the proxy (host, forwarding chain, identity) or answered by it
 * (`expect`: Node already sent 100-continue; undici cannot forward it).
 */
// `x-forwarded-client-cert` from anyone is dropped (Envoy's SANITIZE): only an inbound sidecar
// sets it, from the mTLS handshake it saw itself (SANITIZE_SET), so an app can believe it.
const REBUILT = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'expect', 'x-forwarded-client-cert']);

const CONTROL_PREFIX = CONTROL_HEADERS.prefix;

export type OutgoingHeaders = Record<string, string | string[]>;

export interface ForwardingOptions {
  /** The immediate peer's address (appended to X-Forwarded-For). */
  peerAddress: string;
  /**
   * How much of the incoming X-Forwarded-For chain to keep: `Infinity` for an authenticated mesh
   * peer (another sidecar), otherwise the `trustedHops` setting. Entries before them could be forged.
   */
  trustedHops: number;
  /** Scheme the request arrived with at the edge of the trusted chain. */
  proto: 'http' | 'https';
  /** Absolute-form (HTTP_PROXY) requests carry credentials meant for this proxy, not the origin. */
  stripProxyAuthorization: boolean;
}

/** Connection values that list no field names: nearly every request and response carries one. */
const CONNECTION_OPTIONS_ONLY = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close']);

/** Names listed in a Connection header (excluding the `close`/`keep-alive` options). */
function connectionListed(value: string | undefined): string[] | undefined {
  // Skips the split and lower-casing for the common values (profiled at ~1% of busy time).
  if (value === undefined || CONNECTION_OPTIONS_ONLY.has(value)) return undefined;
  let out: string[] | undefined;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (out ??= []).push(t);
  }
  return out;
}

/** The header object to send upstream for an incoming request, with `authority` as its Host. */
export function upstreamRequestHeaders(req: IncomingMessage, authority: string, opts: ForwardingOptions): OutgoingHeaders {
  const incoming: IncomingHttpHeaders = req.headers;
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHeaders = {};
  for (const name in incoming) {
    // Pseudo-headers (`:path`, `:authority`...) of an HTTP/2 request are rebuilt by the next hop.
    if (name.charCodeAt(0) === 58 /* : */ || HOP_BY_HOP.has(name) || REBUILT.has(name) || name.startsWith(CONTROL_PREFIX)) continue;
    if (listed !== undefined && listed.includes(name)) continue;
    if (opts.stripProxyAuthorization && name === 'proxy-authorization') continue;
    const value = incoming[name];
    // A field the policy step removed (a JWT) is set to undefined there: a delete would cost more.
    if (value === undefined) continue;
    out[name] = value;
  }
  out.host = authority;
  out['x-request-id'] = (incoming['x-request-id'] as string | undefined) || randomUUID();
  out['x-forwarded-for'] = forwardedFor(incoming['x-forwarded-for'], opts.trustedHops, opts.peerAddress);
  const proto = opts.trustedHops > 0 ? (incoming['x-forwarded-proto'] as string | undefined) : undefined;
  out['x-forwarded-proto'] = proto === 'http' || proto === 'https' ? proto : opts.proto;
  return out;
}

/** Keeps the last `trustedHops` entries of the incoming chain and appends the peer. */
export function forwardedFor(incoming: string | string[] | undefined, trustedHops: number, peer: string): string {
  if (incoming === undefined || trustedHops <= 0) return peer;
  const chain = Array.isArray(incoming) ? incoming.join(',') : incoming;
  if (trustedHops === Infinity) return `${chain}, ${peer}`;
  const parts = chain.split(',');
  const kept = parts.slice(Math.max(0, parts.length - trustedHops)).map((p) => p.trim());
  kept.push(peer);
  return kept.join(', ');
}

/** Normalises an IPv4-mapped IPv6 peer address (`::ffff:10.0.0.1`) to plain IPv4. */
export function peerAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

/**
 * Converts undici's raw response header list (or the HTTP/2 upstream's string list) into the flat
 * `[name, value, ...]` list that `writeHead` takes, without hop-by-hop fields (and without
 * `x-weft-*` from untrusted upstreams). Being free of connection-specific fields, the list is
 * also valid on HTTP/2.
 */
export function downstreamResponseHeaders(raw: readonly (Buffer | string)[], stripControl: boolean): string[] {
  const out: string[] = [];
  let listed: string[] | undefined;
  let lengthSeen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      listed = connectionListed(raw[i + 1].toString('latin1'));
      continue;
    }
    if (HOP_BY_HOP.has(lower) || (stripControl && lower.startsWith(CONTROL_PREFIX))) continue;
    if (stripControl && lower === 'trailer') {
      // The announcement of trailers names fields that will be dropped too.
      const kept = withoutControlNames(raw[i + 1].toString('latin1'));
      if (kept !== '') out.push(lower, kept);
      continue;
    }
    if (lower === 'content-length') {
      // Repeats and `n, n` lists (which the parser accepted only when equal) go out as one field.
      if (lengthSeen) continue;
      lengthSeen = true;
      const value = raw[i + 1].toString('latin1');
      const comma = value.indexOf(',');
      out.push(lower, comma < 0 ? value : value.slice(0, comma).trim());
      continue;
    }
    out.push(lower, raw[i + 1].toString('latin1'));
  }
  if (listed === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!listed.includes(out[i])) kept.push(out[i], out[i + 1]);
  return kept;
}

/** A field-name list (`Trailer`) without `x-weft-*` names. */
function withoutControlNames(list: string): string {
  return list
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '' && !n.toLowerCase().startsWith(CONTROL_PREFIX))
    .join(', ');
}

/**
 * Fields that describe or route the message as a whole: in a trailer section they could be
 * mistaken by the next hop for the header field of the same name (RFC 9110 §6.5.1), so they never
 * cross. Hop-by-hop fields and fields the proxy rebuilds are dropped too.
 */
const NOT_IN_TRAILERS = new Set([
  ...HOP_BY_HOP, ...REBUILT, 'trailer', 'content-length', 'content-encoding', 'content-type', 'content-range',
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'www-authenticate', 'proxy-authenticate',
  'cache-control', 'expires', 'date', 'location', 'retry-after', 'vary', 'age', 'max-forwards', 'pragma', 'range',
]);

/**
 * Trailer fields ([name, value, ...]) that may be relayed: lower-cased, without framing, routing
 * and authentication fields, and without `x-weft-*` when `stripControl` (a peer's or an app's
 * trailers never speak for a sidecar).
 */
export function forwardableTrailers(flat: readonly string[], stripControl: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (NOT_IN_TRAILERS.has(name) || (stripControl && name.startsWith(CONTROL_PREFIX))) continue;
    out.push(name, flat[i + 1]);
  }
  return out;
}

/**
 * Fields HTTP/2 (node:http2) accepts once only; an HTTP/1.1 peer may repeat them, and the first is
 * kept, as node:http does for the same fields.
 */
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type',
  'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after',
  'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

/**
 * A flat `[name, value, ...]` list as the header object node:http2 takes: repeated names become
 * arrays, except the fields HTTP/2 takes once, where the first stays (node:http2 throws on an
 * array for those).
 */
export function headerObject(flat: readonly string[]): Record<string, string | string[] | undefined> {
  const obj: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const existing = obj[name];
    if (existing === undefined) obj[name] = flat[i + 1];
    else if (SINGLE_VALUE.has(name)) continue;
    else if (typeof existing === 'string') obj[name] = [existing, flat[i + 1]];
    else existing.push(flat[i + 1]);
  }
  return obj;
}

/**
 * The trailers of a request body (an HTTP/1.1 chunked body or an HTTP/2 request, once it ended)
 * that may travel on, as a flat list; `x-weft-*` from the client is dropped. Undefined when none.
 */
export function requestTrailers(body: unknown): string[] | undefined {
  const t = (body as { trailers?: Record<string, string | string[] | undefined> }).trailers;
  if (t === undefined) return undefined;
  const flat: string[] = [];
  for (const name in t) {
    const value = t[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  const kept = forwardableTrailers(flat, true);
  return kept.length > 0 ? kept : undefined;
}

/**
 * The raw head of a 101 answer relayed to the client of an upgrade: `Connection` and `Upgrade`
 * stay (they are the upgrade itself), other hop-by-hop fields and untrusted `x-weft-*` go.
 */
export function upgradeResponseHead(status: number, raw: readonly (Buffer | string)[], stripControl: boolean): string {
  let head = `HTTP/1.1 ${status} Switching Protocols\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (lower !== 'connection' && lower !== 'upgrade' && (HOP_BY_HOP.has(lower) || (stripControl && lower.startsWith(CONTROL_PREFIX)))) continue;
    const value = raw[i + 1].toString('latin1');
    // Header values came through an HTTP parser; a CR or LF here would forge a header.
    if (/[\r\n]/.test(value)) continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

export interface HostPort {
  readonly host: string;
  readonly port: number | undefined;
}

/** Recent Host values: a sidecar sees the same few on nearly every request. */
const hostCache = new Map<string, HostPort | null>();
const HOST_CACHE_SIZE = 256;

/** Splits a Host header (or CONNECT authority) into a lowercased host and an optional port. */
export function splitHostPort(value: string): HostPort | undefined {
  const cached = hostCache.get(value);
  if (cached !== undefined) return cached ?? undefined;
  const parsed = parseHostPort(value);
  // Bounded: a client sending random Host values only ever churns the cache.
  if (hostCache.size >= HOST_CACHE_SIZE) hostCache.clear();
  hostCache.set(value, parsed ?? null);
  return parsed;
}

function parseHostPort(value: string): HostPort | undefined {
  let host: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return undefined;
    host = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = value.lastIndexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    portText = colon < 0 ? undefined : value.slice(colon + 1);
  }
  if (host === '' || /[\s/?#@]/.test(host)) return undefined;
  if (portText === undefined) return { host: host.toLowerCase(), port: undefined };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host: host.toLowerCase(), port };
}
