/**
 * Reading YAML and JSON sources into plain values while remembering the line of every field, so
 * that schema and validation errors can point at the line a person has to edit. JSON is parsed as
 * YAML (JSON is YAML 1.2), so both get lines the same way.
 */
import {
  type CollectionTag,
  type Document,
  type Node,
  type ScalarTag,
  type YAMLError,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  visit,
} from 'yaml';

/** CloudFormation intrinsic functions, by the name used in short form (`!Ref`) and long form (`Fn::Join`). */
export const INTRINSIC_FUNCTIONS = [
  'Ref', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals', 'And', 'Or', 'Not', 'FindInMap',
  'ImportValue', 'Base64', 'Cidr', 'GetAZs', 'Condition', 'Transform', 'ToJsonString', 'Length',
] as const;

// Registered for every source, so a CloudFormation template's short forms parse without warnings;
// the node keeps its tag and the front ends decide what an intrinsic means where it appears.
const CFN_TAGS: (ScalarTag | CollectionTag)[] = INTRINSIC_FUNCTIONS.flatMap((name) => [
  { tag: `!${name}`, resolve: (value: string) => value } satisfies ScalarTag,
  { tag: `!${name}`, collection: 'seq', resolve: (value) => value } satisfies CollectionTag,
  { tag: `!${name}`, collection: 'map', resolve: (value) => value } satisfies CollectionTag,
]);

/** One document of a source file. */
export interface SourceDocument {
  index: number;
  doc: Document.Parsed;
  /** 1-based line of a node or offset. */
  lineAt(offset: number): number;
}

export interface ParsedSource {
  documents: SourceDocument[];
  /** Syntax errors, each with its document index and line. */
  errors: { document: number; line: number; message: string }[];
}

/**
 * How deep `[` and `{` may nest. Meshes nest a dozen levels; the YAML parser runs out of stack near
 * a thousand, and would then report that instead of the problem.
 */
export const MAX_NESTING = 256;

/**
 * Splits a YAML (or JSON) file into its documents, collecting every syntax error. A file that is
 * not text, or that nests deeper than {@link MAX_NESTING}, is refused before parsing with one error.
 */
export function parseSource(text: string): ParsedSource {
  const refused = refuseUnreadable(text);
  if (refused) return { documents: [], errors: [refused] };
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, customTags: CFN_TAGS, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const docs = Array.isArray(parsed) ? parsed : [];
  const errors: ParsedSource['errors'] = [];
  docs.forEach((doc, index) => {
    const seen = new Set<string>();
    for (const e of doc.errors) {
      const line = lineAt(openingOf(doc, e) ?? e.pos[0]);
      const message = e.code === 'RESOURCE_EXHAUSTION' ? `nesting too deep to read (${e.message.split('\n')[0]})` : e.message.split('\n')[0];
      // One unclosed bracket is reported once, not once per collection it leaves open.
      if (seen.has(`${line}\0${message}`)) continue;
      seen.add(`${line}\0${message}`);
      errors.push({ document: index, line, message });
    }
  });
  return { documents: docs.map((doc, index) => ({ index, doc, lineAt })), errors };
}

/**
 * Where the construct an error is about was opened, for the errors the parser can only notice
 * where the construct should have ended (at the next line, or at the end of the file): an
 * unclosed `[`, `{` or quote. Undefined for every other error, whose own position is right.
 */
function openingOf(doc: Document.Parsed, e: YAMLError): number | undefined {
  const flow = e.code === 'BAD_INDENT' && /^Flow (sequence|map)/.test(e.message);
  const quote = e.code === 'MISSING_CHAR' && /closing .?quote/i.test(e.message);
  if (!flow && !quote) return undefined;
  let start: number | undefined;
  visit(doc, (_key, node) => {
    const range = (node as Node).range;
    if (!range || range[0] > e.pos[0] || range[2] < e.pos[0]) return undefined;
    const opens = flow ? isCollection(node) && node.flow === true : isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE');
    // Visited outside in, so the last one found is the innermost.
    if (opens && range[0] < e.pos[0]) start = range[0];
    return undefined;
  });
  return start;
}

/** One error for a file the parser should not be given: control bytes (a binary file) or nesting past {@link MAX_NESTING}. */
function refuseUnreadable(text: string): ParsedSource['errors'][number] | undefined {
  // YAML allows no C0 control but tab, LF and CR, and no DEL; a binary file has them early.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const control = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(text);
  if (control) {
    const byte = `0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')}`;
    return { document: 0, line: lineOfOffset(text, control.index), message: `not a text file (control byte ${byte}): mesh sources are YAML or JSON text` };
  }
  const deep = flowNestingPast(text, MAX_NESTING);
  if (deep !== undefined) return { document: 0, line: lineOfOffset(text, deep), message: `nesting too deep: more than ${MAX_NESTING} levels of [ and {` };
  return undefined;
}

/**
 * Offset of the first `[` or `{` nested deeper than `limit`, skipping comments and quoted
 * strings. A scan rather than a parse, so it cannot run out of stack itself.
 */
function flowNestingPast(text: string, limit: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[' || c === '{') {
      if (++depth > limit) return i;
    } else if (c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]))) {
      // A quote starts a quoted scalar only where a scalar can start (`don't` is plain text).
      for (i++; i < text.length && text[i] !== c; i++) if (c === '"' && text[i] === '\\') i++;
    }
  }
  return undefined;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** 1-based line where a node starts. */
export function nodeLine(node: Node, src: SourceDocument): number | undefined {
  return node.range ? src.lineAt(node.range[0]) : undefined;
}

/** Joins a field path the way errors print it: `a.b[0].c`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

function parentPath(path: string): string {
  return path.replace(/(\.[^.[\]]+|\[\d+\]|^[^.[\]]+)$/, '');
}

/**
 * Lines of the fields of one resource, keyed by field path. A path that was not written in the
 * source (a missing required field) gets the line of its nearest written parent.
 */
export class LineMap {
  private readonly lines = new Map<string, number>();

  constructor(private readonly rootLine: number) {}

  set(path: string, line: number | undefined): void {
    if (line !== undefined && !this.lines.has(path)) this.lines.set(path, line);
  }

  readonly lineOf = (path: string): number => {
    for (let p = path; p !== ''; p = parentPath(p)) {
      const line = this.lines.get(p);
      if (line !== undefined) return line;
    }
    return this.rootLine;
  };
}

/** A problem found while turning a node into a plain value. */
export interface WalkError {
  /** Path in the source document (for CloudFormation: `Resources.X.Properties.Spec...`). */
  sourcePath: string;
  line: number | undefined;
  message: string;
}

export type IntrinsicResult = { value: unknown } | { error: string };

export interface WalkOptions {
  src: SourceDocument;
  lines: LineMap;
  errors: WalkError[];
  /** Turns a source key into the model's key (CloudFormation's PascalCase). Default: unchanged. */
  renameKey?: (key: string) => string;
  /** Evaluates a CloudFormation intrinsic. Default: refused. */
  intrinsic?: (fn: string, arg: unknown) => IntrinsicResult;
  /** Recognise the JSON forms `{"Ref": ...}` and `{"Fn::X": ...}` (CloudFormation only). */
  longFormIntrinsics?: boolean;
}

const refuseIntrinsic = (fn: string): IntrinsicResult => ({
  error: `CloudFormation functions are only evaluated in CloudFormation templates, got: !${fn}`,
});

/** Name of the intrinsic a node spells, short form (`!Ref`) or long form (`{Ref: ...}`), if any. */
function intrinsicOf(node: Node, longForm: boolean): { fn: string; arg: unknown } | undefined {
  const tag = node.tag;
  if (tag?.startsWith('!') && (INTRINSIC_FUNCTIONS as readonly string[]).includes(tag.slice(1))) {
    return { fn: tag.slice(1), arg: node.toJSON() };
  }
  if (longForm && isMap(node) && node.items.length === 1) {
    const pair = node.items[0];
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const fn = key === 'Ref' || key === 'Condition' ? key : key.startsWith('Fn::') ? key.slice(4) : undefined;
    if (fn !== undefined) return { fn, arg: (pair.value as Node | null)?.toJSON() ?? null };
  }
  return undefined;
}

/**
 * Converts a YAML node into a plain value, recording the line of each field under its model path
 * (`path`) and reporting problems under its source path (`sourcePath`). For map entries the
 * recorded line is the key's, so an unknown or misspelt field points at its own key.
 */
export function toPlain(node: unknown, path: string, sourcePath: string, opts: WalkOptions): unknown {
  if (isAlias(node)) {
    const target = node.resolve(opts.src.doc);
    if (target === undefined) {
      // Anchors are scoped to one document: an alias to an anchor of another `---` document (or a
      // misspelt one) would otherwise become a silent null.
      opts.errors.push({ sourcePath, line: nodeLine(node, opts.src), message: `unknown alias *${node.source} (anchors do not reach across '---' documents)` });
      return null;
    }
    return toPlain(target, path, sourcePath, opts);
  }
  if (!node || typeof node !== 'object' || !('range' in node)) return node ?? null;
  const n = node as Node;
  opts.lines.set(path, nodeLine(n, opts.src));
  const intrinsic = intrinsicOf(n, opts.longFormIntrinsics === true);
  if (intrinsic) {
    const result = (opts.intrinsic ?? refuseIntrinsic)(intrinsic.fn, intrinsic.arg);
    if ('value' in result) return result.value;
    opts.errors.push({ sourcePath, line: nodeLine(n, opts.src), message: result.error });
    return null;
  }
  if (isScalar(n)) return n.value;
  if (isSeq(n)) return n.items.map((item, i) => toPlain(item, joinPath(path, i), joinPath(sourcePath, i), opts));
  if (isMap(n)) {
    const out: Record<string, unknown> = {};
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const rawKey = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const key = opts.renameKey ? opts.renameKey(rawKey) : rawKey;
      const childPath = joinPath(path, key);
      const keyLine = isScalar(pair.key) ? nodeLine(pair.key, opts.src) : undefined;
      opts.lines.set(childPath, keyLine);
      out[key] = toPlain(pair.value, childPath, joinPath(sourcePath, rawKey), opts);
    }
    return out;
  }
  return n.toJSON();
}

/** The value node and key line of `key` in a map node. */
export function entryOf(map: Node, key: string, src: SourceDocument): { node: Node | null; keyLine: number | undefined } | undefined {
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) {
      return { node: (pair.value as Node | null) ?? null, keyLine: nodeLine(pair.key, src) };
    }
  }
  return undefined;
}

/** Keys of a map node, in source order, with their lines. */
export function keysOf(map: Node, src: SourceDocument): { key: string; line: number | undefined }[] {
  if (!isMap(map)) return [];
  return map.items.filter((p) => isScalar(p.key)).map((p) => ({ key: String((p.key as { value: unknown }).value), line: nodeLine(p.key as Node, src) }));
}
