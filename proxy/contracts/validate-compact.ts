/**
 * validate.ts as the sidecar bundle has it (scripts/build.mjs swaps the module): the contract
 * schemas as descriptions the build read out of zod (compact/describe.ts) and embedded as
 * `WEFT_CONTRACT_DESCRIPTIONS`, checked by compact/check.ts. Same answers as zod, no zod.
 */
import { checkDocument } from './compact/check';
import type { SchemaNode } from './compact/description';
import type { ContractName, ContractOutput } from './validate';

declare const WEFT_CONTRACT_DESCRIPTIONS: Record<ContractName, SchemaNode>;

export function validateContract<N extends ContractName>(name: N, input: unknown, code: string, what: string): ContractOutput<N> {
  return checkDocument(WEFT_CONTRACT_DESCRIPTIONS[name], input, code, what) as ContractOutput<N>;
}
