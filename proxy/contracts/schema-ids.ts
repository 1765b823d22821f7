/** The `schema` field of each contract document: a name and a major version, checked on every read. */
export const TASK_REGISTRY_SCHEMA = 'weft.dev/task-registry/v1';
export const ENDPOINTS_FILE_SCHEMA = 'weft.dev/endpoints/v1';
export const CERTIFICATE_SECRET_SCHEMA = 'weft.dev/certificate/v1';

/**
 * The newest node config schema version this release reads, and so the newest its compiler may
 * write. A config says which version it needs (see node-config-features.ts); a sidecar refuses one
 * newer than its own.
 */
export const NODE_CONFIG_VERSION = 2;

export type NodeConfigSchemaId = `weft.dev/node-config/v${number}`;

/** The `schema` of a node config of schema version `version`. */
export function nodeConfigSchemaId(version: number): NodeConfigSchemaId {
  return `weft.dev/node-config/v${version}`;
}

/** Every node config `schema` this release reads: v1 up to {@link NODE_CONFIG_VERSION}. */
export const NODE_CONFIG_SCHEMAS: readonly NodeConfigSchemaId[] = Array.from({ length: NODE_CONFIG_VERSION }, (_, i) => nodeConfigSchemaId(i + 1));

const NODE_CONFIG_SCHEMA_ID = /^weft\.dev\/node-config\/v([1-9][0-9]*)$/;

/** The version a node config `schema` names, of any release (undefined when it is not one). */
export function nodeConfigSchemaVersion(schema: unknown): number | undefined {
  const m = typeof schema === 'string' ? NODE_CONFIG_SCHEMA_ID.exec(schema) : null;
  return m === null ? undefined : Number(m[1]);
}
