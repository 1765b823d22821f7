/**
 * Gives the whole test run one scratch directory as its TMPDIR, removed by global-teardown.ts.
 * Every CDK App without an outdir synthesizes into a fresh `cdk.outXXXX` under the temp directory
 * and never removes it: about fifty per run, which piled up by the hundred on a developer's
 * machine. Workers start after this hook, so they inherit the variable.
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const scratch = mkdtempSync(join(tmpdir(), 'weft-test-'));
  // As open as /tmp itself: the transparent-mode tests run sidecars as uid 1337, which must reach
  // the files those tests put under it (mkdtemp makes the directory 0700).
  chmodSync(scratch, 0o1777);
  process.env.WEFT_TEST_SCRATCH = scratch;
  process.env.TMPDIR = scratch;
}
