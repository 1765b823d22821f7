/**
 * The one place contract documents are validated: every `parse...` function calls
 * {@link validateContract} with the document's name. Here that runs the zod schema. The sidecar
 * bundle replaces this module with validate-compact.ts, which runs the same schemas as data
 * described at build time (compact/), so the sidecar neither loads zod nor builds the schemas:
 * 14 MB less memory per idle sidecar (docs/decisions/0007-contract-validation-without-zod.md).
 * Parsers therefore import schemas only through this module, never directly.
 */
import type { z } from 'zod';
import { CertificateSecretSchema, EndpointsFileSchema, TaskRegistrySchema } from './mesh-documents';
import { NodeConfigSchema } from './node-config';
import { parseWith } from './validation';

export const CONTRACT_SCHEMAS = {
  nodeConfig: NodeConfigSchema,
  taskRegistry: TaskRegistrySchema,
  endpointsFile: EndpointsFileSchema,
  certificateSecret: CertificateSecretSchema,
};
export type ContractName = keyof typeof CONTRACT_SCHEMAS;
export type ContractOutput<N extends ContractName> = z.output<(typeof CONTRACT_SCHEMAS)[N]>;

/** Validates `input` as the document `name`; throws a ContractError with code `code` naming `what`. */
export function validateContract<N extends ContractName>(name: N, input: unknown, code: string, what: string): ContractOutput<N> {
  return parseWith(CONTRACT_SCHEMAS[name], input, code, what) as ContractOutput<N>;
}
