/** The contracts between Weft's parts (see docs/contracts.md). Every part imports them from here. */
export * from './node-config';
export * from './node-config-io';
export * from './settings';
export * from './mesh-layout';
export * from './validation';
