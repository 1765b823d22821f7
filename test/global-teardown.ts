/** Removes the scratch directory global-setup.ts made the run's TMPDIR. */
import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const scratch = process.env.WEFT_TEST_SCRATCH;
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
}
