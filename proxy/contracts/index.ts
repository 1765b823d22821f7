/** The contracts between Weft's parts (see docs/contracts.md). Every part imports them from here, except the sidecar (see validate.ts). */
export * from './schema-ids';
export * from './node-config';
export * from './node-config-io';
export * from './fields-not-applied';
export * from './node-config-features';
export * from './settings';
export * from './mesh-layout';
export * from './mesh-documents';
export * from './regex-rules';
export * from './authz-rules';
export * from './jwt-rules';
export * from './access-log-format';
export * from './validate';
export * from './validation';
