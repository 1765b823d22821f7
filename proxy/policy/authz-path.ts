/**
 * The path authorization judges: the router's path (dot segments already removed, see
 * proxy/message/request-path.ts) in the strictest of Istio's `pathNormalization` forms,
 * DECODE_AND_MERGE_SLASHES, and then some, so no spelling of a path reaches the app past a DENY
 * that names it:
 *
 * - the query and fragment are not part of the path (Envoy's RBAC `url_path`);
 * - `%2F`, `%5C` and percent-encoded unreserved characters (`%41`, `%2e`, `%7E`, any hex case) are
 *   decoded; `\` counts as `/` (Envoy's normalization); other escapes are left, their hex uppercased;
 * - `;params` of a segment are dropped (servlet containers ignore them: `/admin;x` is `/admin`);
 * - runs of `/` merge; dot segments are removed again, after decoding.
 *
 * The request is forwarded with the router's path, unchanged. Paths are case-sensitive, as in Istio.
 * The common path (no `%`, `\`, `;`, `//`, no query) is returned as it is, without allocating.
 */
import { normalizePath } from '../message/request-path';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** `path` as authorization matches it (see above). */
export function authzPath(path: string): string {
  let end = path.length;
  let plain = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
    if (c === 37 /* % */ || c === 92 /* \ */ || c === 59 /* ; */ || (c === 47 /* / */ && path.charCodeAt(i + 1) === 47)) plain = false;
  }
  const bare = end === path.length ? path : path.slice(0, end);
  return plain ? bare : canonical(bare);
}

function canonical(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '%' && i + 2 < path.length && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
      const decoded = String.fromCharCode(parseInt(path.slice(i + 1, i + 3), 16));
      if (decoded === '/' || decoded === '\\') out += '/';
      else if (UNRESERVED.test(decoded)) out += decoded;
      else out += `%${path.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else out += ch === '\\' ? '/' : ch;
  }
  // Segment parameters, then merged slashes, then dot segments (which decoding may have made).
  out = out.replace(/;[^/]*/g, '').replace(/\/{2,}/g, '/');
  if (!out.startsWith('/')) out = `/${out}`;
  return normalizePath(out);
}
