/**
 * The mesh model API: the model's shapes, its errors, the front ends that load it, the validator
 * and the compiler. Nothing here imports aws-cdk-lib, so the CLI and the tests use it without CDK.
 */
export * from './schema';
export * from './errors';
export { durationMs } from './duration';
export * from './load';
export * from './validate';
export { resourceFieldsNotApplied, type ResourceSpec } from './not-applied';
export { compileMesh, UnknownNodeError, type CompileOptions } from './compile';
