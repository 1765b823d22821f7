/**
 * What a route regex may use, and how the sidecar runs it in linear time. Envoy matches route
 * regexes with RE2 (`safe_regex`), so App Mesh and Istio users write regexes without
 * backreferences and without lookaround; Weft accepts the same language. It also keeps the sidecar
 * safe from catastrophic backtracking: the sidecar runs V8 with
 * `--enable-experimental-regexp-engine-on-excessive-backtracks` (proxy/sidecar-runtime.ts), which
 * re-runs a regex in V8's linear-time engine once it backtracks too much. That engine handles
 * neither feature, and it unrolls counted repetition: it takes no count above 16 and no nesting
 * that unrolls to more than 16 copies, and for a regex it cannot take there is no fallback
 * (`^([a-z]{1,64})+$` against 29 letters and a `!` backtracked for 12 s). So the sidecar compiles
 * {@link linearRegexSource}, which splits every count on a single character, escape or class
 * (`[a-f0-9]{64}`, the common case) into counts small enough for where they stand (the same
 * language), and `weft validate` and the sidecar's route compiler refuse what cannot be split: a
 * count on a group that unrolls, with the groups around it, to more than 16 copies, and, as RE2
 * does, any count above 1000. A test holds the rule against V8's own (`new RegExp(s, 'l')`).
 */

/** V8's linear-time engine unrolls at most this many copies of a counted repetition (its kMaxReplicationFactor). */
const LINEAR_MAX_COPIES = 16;
/** RE2's ceiling on a repetition count; Envoy refuses larger ones too. */
const RE2_MAX_REPEAT = 1000;

/**
 * The first feature of `source` that RE2 or V8's linear-time engine lacks (after
 * {@link linearRegexSource}), described; else undefined. `source` must already compile as a RegExp.
 */
export function unsupportedRegexFeature(source: string): string | undefined {
  return linearRegex(source).unsupported;
}

/** {@link linearRegexSource} and {@link unsupportedRegexFeature} from one parse, for the route compiler. */
export function linearRegex(source: string): { source: string; unsupported?: string } {
  const u = unrolled(source);
  return { source: u.text, unsupported: u.backtracking ?? u.problem };
}

/** The message both validators give, so `weft validate` and the sidecar word it the same. */
export function regexFeatureMessage(feature: string): string {
  return `must not use ${feature}: route regexes are RE2's language and must run in linear time, as in Envoy (no backreferences, no lookaround, no count above 1000, no repeated group that unrolls to more than ${LINEAR_MAX_COPIES} copies)`;
}

/**
 * `source` with every count on a single character, escape, class or `.` that needs more copies
 * than its place allows (16, divided by the copies of the counted groups around it) split into
 * smaller counts: `x{40}` becomes `x{16}x{16}x{8}`, `x{1,40}` becomes `x{1}x{0,16}x{0,16}x{0,7}`,
 * `x{20,}` becomes `x{16}x{4}x*`, and inside `(...)+` the pieces are of 8. The language is the
 * same, so a full-match test gives the same answer; which substring a capture group takes may
 * differ for lazy counts, and the sidecar only tests. Counts on groups are left alone
 * ({@link unsupportedRegexFeature} refuses those that need too many copies).
 */
export function linearRegexSource(source: string): string {
  return unrolled(source).text;
}

interface Quantifier {
  min: number;
  max: number;
  lazy: boolean;
  /** Index just past the quantifier. */
  end: number;
}

interface Unrolled {
  text: string;
  /** The first backreference or lookaround: RE2 lacks them, and the linear engine cannot run them. */
  backtracking?: string;
  /** The first count that cannot be unrolled. */
  problem?: string;
}

/** Parses `source` (JavaScript regex syntax without flags) into its linear-engine form. */
function unrolled(source: string): Unrolled {
  const at = { i: 0 };
  const out: Unrolled = { text: '' };
  // A top-level `)` cannot occur in a source that compiles; the loop guards against it anyway.
  while (at.i < source.length) {
    out.text += sequence(source, at, out, LINEAR_MAX_COPIES);
    if (at.i < source.length) out.text += source[at.i++];
  }
  return out;
}

/**
 * How many copies V8's linear engine makes of a quantifier's body: its maximum when finite;
 * otherwise its minimum plus one for the starred copy (Node 20's V8; Node 24's counts the minimum
 * alone, so the stricter count suits both).
 */
function copiesOf(q: Quantifier): number {
  if (q.max !== Infinity) return Math.max(q.max, 1);
  return q.min > 0 ? q.min + 1 : 1;
}

/**
 * Items up to the `)` closing the current group (not consumed) or the end, rewritten so that no
 * count inside needs more than `budget` copies (what the enclosing groups' counts leave).
 */
function sequence(source: string, at: { i: number }, report: Unrolled, budget: number): string {
  let text = '';
  while (at.i < source.length && source[at.i] !== ')') {
    const start = at.i;
    const c = source[at.i];
    if (c === '|' || c === '^' || c === '$') {
      text += c;
      at.i++;
      continue;
    }
    if (c === '(') {
      if (source[start + 1] === '?') {
        const kind = source[start + 2];
        if (kind === '=' || kind === '!') report.backtracking ??= `a lookahead (${source.slice(start, start + 3)})`;
        if (kind === '<' && (source[start + 3] === '=' || source[start + 3] === '!')) report.backtracking ??= `a lookbehind (${source.slice(start, start + 4)})`;
      }
      const close = groupEnd(source, start);
      const q = quantifier(source, close + 1);
      const written = q === undefined ? '' : source.slice(close + 1, q.end);
      const copies = q === undefined ? 1 : copiesOf(q);
      if (q !== undefined) checkRe2Count(written, q, report);
      if (copies > budget) report.problem ??= `a repeated group that unrolls to more than ${LINEAR_MAX_COPIES} copies (${written} on ${source.slice(start, close + 1)})`;
      const opening = groupOpening(source, start);
      at.i = start + opening.length;
      text += opening + sequence(source, at, report, Math.max(1, Math.floor(budget / copies))) + ')' + written;
      at.i = q === undefined ? close + 1 : q.end;
      continue;
    }
    if (c === '\\') {
      const next = source[start + 1];
      // Escapes inside a class never get here (the class is one atom), so \1 there stays a character.
      if (next >= '1' && next <= '9') report.backtracking ??= `a backreference (\\${next})`;
      if (next === 'k' && source[start + 2] === '<') report.backtracking ??= 'a named backreference (\\k<...>)';
    }
    at.i = atomEnd(source, start);
    const atom = source.slice(start, at.i);
    const q = quantifier(source, at.i);
    if (q === undefined) {
      text += atom;
      continue;
    }
    const written = source.slice(at.i, q.end);
    at.i = q.end;
    checkRe2Count(written, q, report);
    text += copiesOf(q) <= budget ? atom + written : splitCount(atom, q, budget);
  }
  return text;
}

function checkRe2Count(written: string, q: Quantifier, report: Unrolled): void {
  if (q.min > RE2_MAX_REPEAT || (q.max !== Infinity && q.max > RE2_MAX_REPEAT)) report.problem ??= `a repetition count above ${RE2_MAX_REPEAT} (${written})`;
}

/** Index of the `)` closing the group opened at `i`. */
function groupEnd(source: string, i: number): number {
  let depth = 0;
  for (let j = i; j < source.length; j++) {
    const c = source[j];
    if (c === '\\') j++;
    else if (c === '[') j = atomEnd(source, j) - 1;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return j;
  }
  return source.length;
}

/**
 * The opening of the group at `i`: `(`, `(?:`, `(?<name>`, or `(?i:` / `(?-i:` (the modifiers of
 * Node 24's V8, which RE2 has too). Lookaround (reported by the caller) opens with `(`, as does
 * anything else, so the parser advances on any input.
 */
function groupOpening(source: string, i: number): string {
  if (source[i + 1] !== '?') return '(';
  const named = /^\(\?<[^>=!]*>/.exec(source.slice(i, i + 256));
  if (named !== null) return named[0];
  const modifiers = /^\(\?[a-z]*(?:-[a-z]*)?:/.exec(source.slice(i, i + 16));
  return modifiers !== null ? modifiers[0] : '(';
}

/** Index just past the single-character atom (character, escape, class or `.`) at `i`. */
function atomEnd(source: string, i: number): number {
  if (source[i] === '[') {
    // `[]` and `[^]` are complete classes in JavaScript: the first `]` closes.
    let j = source[i + 1] === '^' ? i + 2 : i + 1;
    while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (source[i] !== '\\') return i + 1;
  const e = source[i + 1];
  const hex = (n: number): boolean => /^[0-9a-fA-F]+$/.test(source.slice(i + 2, i + 2 + n)) && source.length >= i + 2 + n;
  if (e === 'x' && hex(2)) return i + 4;
  if (e === 'u' && hex(4)) return i + 6;
  if (e === 'c' && /[A-Za-z]/.test(source[i + 2] ?? '')) return i + 3;
  if (e === '0') {
    // Annex B octal: \0 followed by up to two more octal digits.
    let j = i + 2;
    while (j < i + 4 && source[j] >= '0' && source[j] <= '7') j++;
    return j;
  }
  return i + 2;
}

/** The quantifier at `i`, if one is there (`{` that does not start `{n}`, `{n,}` or `{n,m}` is a literal). */
function quantifier(source: string, i: number): Quantifier | undefined {
  const c = source[i];
  let min: number;
  let max: number;
  let end: number;
  if (c === '*' || c === '+' || c === '?') {
    min = c === '+' ? 1 : 0;
    max = c === '?' ? 1 : Infinity;
    end = i + 1;
  } else if (c === '{') {
    const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(source.slice(i, i + 32));
    if (m === null) return undefined;
    min = Number(m[1]);
    max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    end = i + m[0].length;
  } else return undefined;
  const lazy = source[end] === '?';
  return { min, max, lazy, end: lazy ? end + 1 : end };
}

/** `atom{min,max}` as counts of at most `chunk` each, and `atom*` for an unbounded rest. */
function splitCount(atom: string, q: Quantifier, chunk: number): string {
  const lazy = q.lazy ? '?' : '';
  let out = '';
  for (let left = q.min; left > 0; left -= chunk) out += `${atom}{${Math.min(chunk, left)}}`;
  if (q.max === Infinity) return `${out}${atom}*${lazy}`;
  for (let left = q.max - q.min; left > 0; left -= chunk) out += `${atom}{0,${Math.min(chunk, left)}}${lazy}`;
  return out;
}
