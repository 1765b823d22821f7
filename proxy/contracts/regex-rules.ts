/**
 * What a route regex may use. Envoy matches route regexes with RE2 (`safe_regex`), so App Mesh and
 * Istio users write regexes without backreferences and without lookaround; Weft accepts the same
 * language. It also keeps the sidecar safe from catastrophic backtracking: the sidecar runs V8 with
 * `--enable-experimental-regexp-engine-on-excessive-backtracks` (proxy/sidecar-runtime.ts), which
 * re-runs a regex in V8's linear-time engine once it backtracks too much, and that engine handles
 * neither feature. `weft validate` and the sidecar's route compiler both apply this rule.
 */

/** The first feature of `source` that RE2 and V8's linear-time engine lack, described; else undefined. */
export function unsupportedRegexFeature(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1];
      // Inside a class an escaped digit is a character, not a reference.
      if (!inClass && next >= '1' && next <= '9') return `a backreference (\\${next})`;
      if (!inClass && next === 'k' && source[i + 2] === '<') return 'a named backreference (\\k<...>)';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && source[i + 1] === '?') {
      const kind = source[i + 2];
      if (kind === '=' || kind === '!') return `a lookahead (${source.slice(i, i + 3)})`;
      if (kind === '<' && (source[i + 3] === '=' || source[i + 3] === '!')) return `a lookbehind (${source.slice(i, i + 4)})`;
    }
  }
  return undefined;
}

/** The message both validators give, so `weft validate` and the sidecar word it the same. */
export function regexFeatureMessage(feature: string): string {
  return `must not use ${feature}: route regexes are RE2's language, as in Envoy (no backreferences, no lookaround)`;
}
