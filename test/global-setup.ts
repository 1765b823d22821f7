/**
 * Gives the whole test run one scratch directory as its TMPDIR, removed by global-teardown.ts.
 * Every CDK App without an outdir synthesizes into a fresh `cdk.outXXXX` under the temp directory
 * and never removes it: about fifty per run, which piled up by the hundred on a developer's
 * machine. Workers start after this hook, so they inherit the variable.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const scratch = mkdtempSync(join(tmpdir(), 'weft-test-'));
  process.env.WEFT_TEST_SCRATCH = scratch;
  process.env.TMPDIR = scratch;
}
