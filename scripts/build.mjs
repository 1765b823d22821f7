// Bundles the runnable entry points with esbuild so that `weft` runs with plain `node` after `npm ci`.
// Dependencies stay external (they are in node_modules); the sidecar image bundles its own copy
// from proxy/ (see proxy/Dockerfile).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';

const entries = [
  { in: 'bin/weft.ts', out: 'weft', banner: '#!/usr/bin/env node' },
  { in: 'bench/run.ts', out: 'bench' },
  { in: 'bin/example-app.ts', out: 'example-app' },
].filter((e) => existsSync(e.in));

await Promise.all(
  entries.map((e) =>
    build({
      entryPoints: [e.in],
      outfile: `dist/${e.out}.js`,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      packages: 'external',
      sourcemap: true,
      banner: e.banner ? { js: e.banner } : undefined,
      logLevel: 'warning',
    }),
  ),
);

// `npx weft` executes the bin directly.
if (existsSync('dist/weft.js')) chmodSync('dist/weft.js', 0o755);

// The optional SO_ORIGINAL_DST addon (transparent-mode plain TCP). Its script prints a notice and
// exits 0 when g++, make or Node's headers are missing: the sidecar then refuses such TCP clearly.
execFileSync(process.execPath, ['native/original-dst/build.mjs'], { stdio: 'inherit' });
