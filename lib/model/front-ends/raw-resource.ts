/**
 * What every front end hands to the loader: a resource whose identity is known and whose spec is
 * still unchecked. The loader checks specs against the schema, assigns meshes and groups them.
 */
import type { ModelError } from '../errors';
import type { LOCAL_WORKLOAD_KIND } from '../local-workload';
import type { ResourceKind, SourceRef } from '../schema';

export interface RawResource {
  /** A mesh resource, or a LocalWorkload (Weft documents only), which the loader keeps apart from the mesh. */
  kind: ResourceKind | typeof LOCAL_WORKLOAD_KIND;
  name: string;
  /** Absent when the source did not say; the loader then uses the only mesh, if there is one. */
  meshName?: string;
  /** Route only. */
  virtualRouterName?: string;
  /** GatewayRoute only. */
  virtualGatewayName?: string;
  spec: unknown;
  /** `lineOf` knows `spec.*` and the model's metadata paths (`metadata.name`, `metadata.mesh`, ...). */
  source: SourceRef & { lineOf: (path: string) => number | undefined };
}

export interface FrontEndResult {
  resources: RawResource[];
  errors: ModelError[];
  /**
   * Meshes of the resources that failed to load (undefined: not known), so the loader can hold
   * those meshes back instead of handing half a mesh to the validator.
   */
  failed: (string | undefined)[];
}

/** Builds a ModelError from front-end facts, leaving out what is unknown. */
export function frontEndError(
  file: string,
  document: number,
  line: number | undefined,
  resource: string | undefined,
  path: string,
  message: string,
): ModelError {
  const e: ModelError = { file, path, message };
  if (line !== undefined) e.line = line;
  e.document = document;
  if (resource !== undefined) e.resource = resource;
  return e;
}

/** `got: value` rendering shared by front-end messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value === '' ? '""' : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}
