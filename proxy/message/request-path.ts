/**
 * Request paths as routing (and, later, authorization) must see them: RFC 3986 §5.2.4 dot-segment
 * removal, the default normalization of Istio and Envoy (`normalize_path`). Without it
 * `/public/../admin` matches a `/public` prefix route and reaches `/admin` on the app. A segment
 * spelled with percent-encoded dots (`%2e`, `%2E`) counts as a dot segment, as in WHATWG URL
 * parsing; `%2F` is left as it is (Envoy's default `KEEP_UNCHANGED`). The normalized path is
 * also what is forwarded, so the upstream sees exactly what was routed.
 */

import type { IncomingMessage } from 'node:http';

/**
 * The path a server routes and forwards for `req`: an origin-form target normalized; an
 * absolute-form target's path, normalized, its authority then replacing the request's Host
 * (RFC 9112 §3.2.2, as Envoy does); `*` of an OPTIONS request as it is. Undefined for any other
 * target (authority-form outside CONNECT, userinfo, other schemes): a 400.
 */
export function serverPath(req: IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  if (url.charCodeAt(0) === 47 /* / */) return normalizePath(url);
  if (url === '*') return req.method === 'OPTIONS' ? url : undefined;
  const target = absoluteTarget(url);
  if (target === undefined) return undefined;
  req.headers.host = target.authority;
  return target.path;
}

/** An absolute-form request target, read as RFC 9112 §3.2.2 asks of a server. */
export interface AbsoluteTarget {
  scheme: 'http' | 'https';
  /** host[:port] as written; it replaces the Host header. */
  authority: string;
  /** The target in origin-form (path and query), normalized. */
  path: string;
}

/**
 * Reads an absolute-form target (`http://host:port/a/../b?q`): its authority replaces Host, its
 * path becomes origin-form (`/` when empty) and only then is it normalized, exactly as an
 * origin-form target would be, so the next hop always receives origin-form with one Host.
 * Undefined when it is not an http(s) URI with a plain authority: userinfo (`user@host`), a
 * fragment or an invalid host are refused rather than guessed at.
 */
export function absoluteTarget(target: string): AbsoluteTarget | undefined {
  const sep = target.indexOf('://');
  if (sep < 0) return undefined;
  const scheme = target.slice(0, sep).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  const start = sep + 3;
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    end++;
  }
  const authority = target.slice(start, end);
  if (authority === '' || authority.includes('@') || target.includes('#') || !validAuthority(authority)) return undefined;
  const rest = target.slice(end);
  const path = rest === '' ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest;
  return { scheme, authority, path: normalizePath(path) };
}

/** host (reg-name, IPv4 or [IPv6]) and an optional port of 1-65535. */
function validAuthority(authority: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (m === null) return false;
  return m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535);
}

/** The origin-form request target with its path normalized; the query is kept as it is. */
export function normalizePath(target: string): string {
  const q = target.indexOf('?');
  const end = q < 0 ? target.length : q;
  if (!hasDotSegment(target, end)) return target;
  const segments = target.slice(0, end).split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const seg = segments[i];
    const dots = dotCount(seg);
    if (dots === 0) {
      out.push(seg);
      continue;
    }
    if (dots === 2) out.pop();
    // `/a/.` and `/a/b/..` keep their trailing slash: `/a/`.
    if (i === last) out.push('');
  }
  return `/${out.join('/')}${target.slice(end)}`;
}

/** True when some segment of `target[0, end)` starts with `.` or `%2e`; no allocation. */
function hasDotSegment(target: string, end: number): boolean {
  for (let i = target.indexOf('/'); i !== -1 && i + 1 < end; i = target.indexOf('/', i + 1)) {
    const c = target.charCodeAt(i + 1);
    if (c === 46 /* . */) return true;
    if (c === 37 /* % */ && target.charCodeAt(i + 2) === 50 /* 2 */ && (target.charCodeAt(i + 3) | 0x20) === 101 /* e */) return true;
  }
  return false;
}

/** 1 for `.`, 2 for `..` (either dot may be `%2e`), 0 for any other segment. */
function dotCount(seg: string): 0 | 1 | 2 {
  if (seg.length > 6) return 0;
  const s = seg.toLowerCase().replaceAll('%2e', '.');
  return s === '.' ? 1 : s === '..' ? 2 : 0;
}
