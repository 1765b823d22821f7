/** The `schema` field of each contract document: a name and a major version, checked on every read. */
export const NODE_CONFIG_SCHEMA = 'weft.dev/node-config/v1';
export const TASK_REGISTRY_SCHEMA = 'weft.dev/task-registry/v1';
export const ENDPOINTS_FILE_SCHEMA = 'weft.dev/endpoints/v1';
export const CERTIFICATE_SECRET_SCHEMA = 'weft.dev/certificate/v1';
