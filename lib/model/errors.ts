/**
 * Errors found in a mesh: what is wrong and exactly where, so a user can fix every one of them in
 * one pass. Front ends and the validator collect these instead of throwing on the first problem.
 */
import type { Resource, SourceRef } from './schema';

export interface ModelError {
  /** File name, or construct path for CDK. */
  file: string;
  /** 1-based line in the file, when the front end knows it (YAML, JSON). */
  line?: number;
  /** Index of the document in a multi-document file. */
  document?: number;
  /** `Kind/name` of the resource, when the error belongs to one. */
  resource?: string;
  /** Field path inside the resource or document, e.g. `spec.listeners[0].portMapping.port`. */
  path: string;
  message: string;
}

/** `file:line: Kind/name: path: message`, the form the CLI prints and tests assert on. */
export function formatModelError(e: ModelError): string {
  return [whereOf(e), e.resource, e.path, e.message].filter((p): p is string => p !== undefined && p !== '').map(echo).join(': ');
}

/**
 * `file:line: warning: Kind/name: path: message`: a finding in the same shape as an error (a
 * {@link ModelError}) that does not make the mesh invalid.
 */
export function formatModelWarning(w: ModelError): string {
  return [whereOf(w), 'warning', w.resource, w.path, w.message].filter((p): p is string => p !== undefined && p !== '').map(echo).join(': ');
}

function whereOf(e: ModelError): string {
  return e.line !== undefined ? `${e.file}:${e.line}` : e.document !== undefined ? `${e.file}#${e.document}` : e.file;
}

/** The longest run of non-space characters (a name, a value) an error prints whole. */
const ECHO_MAX_WORD = 200;
/** The longest part (message, path, resource) an error prints whole. */
const ECHO_MAX_PART = 1_000;

/**
 * Errors echo what the user wrote, and what they wrote may be a 5 MB name or the bytes of a binary
 * file: control characters (and the invisible ones that reorder text) are escaped, so an error
 * cannot rewrite the terminal, and what is too long is cut, saying how long it was.
 */
function echo(text: string): string {
  const escaped = text.replace(UNPRINTABLE, escapeChar);
  return clip(clipLongWords(escaped), ECHO_MAX_PART);
}

/**
 * Cuts every run of non-space characters longer than {@link ECHO_MAX_WORD}. A scan, not a regex:
 * `\S{201,}` over a 5 MB run overflowed V8's regex stack when the caller's stack was deep.
 */
function clipLongWords(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    if (isSpace(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !isSpace(text.charCodeAt(j))) j++;
    if (j - i > ECHO_MAX_WORD) {
      out += text.slice(copied, i) + clip(text.slice(i, j), ECHO_MAX_WORD);
      copied = j;
    }
    i = j;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** What JavaScript's `\s` matches. */
function isSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

// C0 and C1 controls, DEL, line and paragraph separators, and bidirectional overrides.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED_ESCAPES[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} characters)`;
}

/** Builds an error that points at `path` inside `resource`, with its line when the source knows it. */
export function errorAt(resource: Pick<Resource, 'kind' | 'name' | 'source'>, path: string, message: string): ModelError {
  return errorIn(resource.source, `${resource.kind}/${resource.name}`, path, message);
}

export function errorIn(source: SourceRef, resource: string | undefined, path: string, message: string): ModelError {
  const line = source.lineOf?.(path);
  const e: ModelError = { file: source.file, path, message };
  if (line !== undefined) e.line = line;
  if (source.document !== undefined) e.document = source.document;
  if (resource !== undefined) e.resource = resource;
  return e;
}

/** Thrown where a caller needs an exception (constructs at synth, config publish). */
export class MeshValidationError extends Error {
  readonly code = 'WEFT_ERR_MESH_INVALID';
  constructor(readonly errors: readonly ModelError[]) {
    super(`invalid mesh (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${errors.map((e) => `  ${formatModelError(e)}`).join('\n')}`);
    this.name = 'MeshValidationError';
  }
}
