/**
 * Request paths as routing (and, later, authorization) must see them: RFC 3986 §5.2.4 dot-segment
 * removal, the default normalization of Istio and Envoy (`normalize_path`). Without it
 * `/public/../admin` matches a `/public` prefix route and reaches `/admin` on the app. A segment
 * spelled with percent-encoded dots (`%2e`, `%2E`) counts as a dot segment, as in WHATWG URL
 * parsing; `%2F` is left as it is (Envoy's default `KEEP_UNCHANGED`). The normalized path is
 * also what is forwarded, so the upstream sees exactly what was routed.
 */

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
