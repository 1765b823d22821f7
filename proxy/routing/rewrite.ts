/**
 * Path, authority and redirect-location arithmetic shared by mesh routes and gateway routes.
 */
import type { Redirect } from '../contracts/node-config';
import type { RouteRequest } from './types';

/**
 * Replaces the first `matchedLength` characters of `path` with `replacement`.
 *
 * Plain concatenation as Envoy's `prefix_rewrite`, with one difference: when the replacement ends
 * with `/` and the remainder starts with `/`, the seam keeps a single slash. That makes App Mesh's
 * default gateway rewrite (`/`) behave the same whether the match prefix was written with or
 * without a trailing slash: `/path-to-app` and `/path-to-app/` both turn `/path-to-app/x` into `/x`,
 * and `/path-to-app` alone becomes `/`. An empty result becomes `/`.
 */
export function replacePrefix(path: string, matchedLength: number, replacement: string): string {
  if (matchedLength >= path.length) return replacement.length === 0 ? '/' : replacement;
  const rest = matchedLength === 0 ? path : path.slice(matchedLength);
  if (replacement.length === 0) return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  if (replacement.charCodeAt(replacement.length - 1) === 47 && rest.charCodeAt(0) === 47) return replacement + rest.slice(1);
  return replacement + rest;
}

/**
 * The authority the app sent: `Host`, else HTTP/2 `:authority`, else the routed host and port.
 */
export function originalAuthority(req: RouteRequest): string {
  const host = req.headers.host;
  if (typeof host === 'string' && host.length > 0) return host;
  const authority = (req.headers as Record<string, string | string[] | undefined>)[':authority'];
  if (typeof authority === 'string' && authority.length > 0) return authority;
  return req.port === undefined ? bracketIpv6(req.host) : `${bracketIpv6(req.host)}:${req.port}`;
}

/**
 * The `Location` of a redirect. Unset parts keep the request's: scheme, host, path (or the matched
 * prefix replaced by `prefix`) and the query string. The port is kept unless the redirect sets
 * one or changes the scheme (the old port belongs to the old scheme), and is left out when it is
 * the new scheme's default.
 */
export function redirectLocation(
  redirect: Redirect,
  req: RouteRequest,
  pathOnly: string,
  query: string,
  matchedLength: number,
): string {
  const scheme = redirect.scheme ?? req.scheme;
  const host = redirect.hostname ?? req.host;
  let port = redirect.port;
  if (port === undefined && scheme === req.scheme) port = req.port;
  let path = pathOnly;
  if (redirect.path !== undefined) path = redirect.path;
  else if (redirect.prefix !== undefined) path = replacePrefix(pathOnly, matchedLength, redirect.prefix);
  const defaultPort = scheme === 'https' ? 443 : 80;
  const authority = port === undefined || port === defaultPort ? bracketIpv6(host) : `${bracketIpv6(host)}:${port}`;
  return `${scheme}://${authority}${path}${query}`;
}

function bracketIpv6(host: string): string {
  return host.indexOf(':') >= 0 && host.charCodeAt(0) !== 91 /* [ */ ? `[${host}]` : host;
}
