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
  return [whereOf(e), e.resource, e.path, e.message].filter((p) => p !== undefined && p !== '').join(': ');
}

/**
 * `file:line: warning: Kind/name: path: message`: a finding in the same shape as an error (a
 * {@link ModelError}) that does not make the mesh invalid.
 */
export function formatModelWarning(w: ModelError): string {
  return [whereOf(w), 'warning', w.resource, w.path, w.message].filter((p) => p !== undefined && p !== '').join(': ');
}

function whereOf(e: ModelError): string {
  return e.line !== undefined ? `${e.file}:${e.line}` : e.document !== undefined ? `${e.file}#${e.document}` : e.file;
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
