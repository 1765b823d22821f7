// Bundles the runnable entry points with esbuild so that `weft` runs with plain `node` after
// `npm install`. The CLI, bench and example app keep their dependencies external (they are in
// node_modules); the sidecar bundle (dist/weft-proxy.js) carries its dependencies inside, because
// it is what the sidecar image ships and what the benchmark measures (proxy/Dockerfile runs
// `node scripts/build.mjs --sidecar <dir>`).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const common = { bundle: true, platform: 'node', format: 'cjs', sourcemap: true, logLevel: 'warning' };

/**
 * The AWS SDK clients the sidecar loads on first use (proxy/aws/clients.ts), and the exports of
 * each it uses. Only those are bundled, from the packages' ES module builds, so that esbuild drops
 * every other command and its serializers.
 */
const SIDECAR_SDK_EXPORTS = JSON.parse(readFileSync('proxy/aws/sdk-exports.json', 'utf8'));
const SIDECAR_SDK_CLIENTS = Object.keys(SIDECAR_SDK_EXPORTS);
const SIDECAR_SDK_FILE = 'weft-proxy-aws.js';

/**
 * The sidecar, dependencies included: weft-proxy.js, plus the AWS SDK clients in a file of their
 * own (weft-proxy-aws.js) that the sidecar requires only when it uses an AWS source. Inlined, the
 * SDK's source alone cost ~25 MB of RSS in every sidecar, also in those that never call AWS
 * (docs/decisions/0008-aws-sdk-bundle.md).
 * The Dockerfile copies proxy/ (with sdk-exports.json) before it runs this.
 */
async function buildSidecar(outdir) {
  const sdkApart = {
    name: 'weft-sdk-apart',
    setup(b) {
      const names = new RegExp(`^(${SIDECAR_SDK_CLIENTS.map((n) => n.replace(/[/-]/g, '\\$&')).join('|')})$`);
      b.onResolve({ filter: names }, () => ({ path: `./${SIDECAR_SDK_FILE}`, external: true }));
    },
  };
  const sidecar = { ...common, target: 'node20', minifySyntax: true };
  const descriptions = await contractDescriptions();
  await Promise.all([
    build({
      ...sidecar,
      entryPoints: ['proxy/entry.ts'],
      outfile: join(outdir, 'weft-proxy.js'),
      plugins: [sdkApart, compactContracts, onePackageCopy],
      define: { WEFT_CONTRACT_DESCRIPTIONS: JSON.stringify(descriptions) },
    }),
    build({
      ...sidecar,
      stdin: {
        contents: SIDECAR_SDK_CLIENTS.map((n) => `export { ${SIDECAR_SDK_EXPORTS[n].join(', ')} } from '${n}';`).join('\n'),
        resolveDir: process.cwd(),
        loader: 'js',
      },
      mainFields: ['module', 'main'],
      plugins: [onePackageCopy],
      outfile: join(outdir, SIDECAR_SDK_FILE),
    }),
  ]);
  for (const file of ['weft-proxy.js', SIDECAR_SDK_FILE]) asciiOnly(join(outdir, file));
}

/**
 * The sidecar validates contract documents without zod: proxy/contracts/validate.ts is swapped for
 * validate-compact.ts, which checks the schemas' descriptions (proxy/contracts/compact/) that
 * {@link contractDescriptions} reads out of the zod schemas here, at build time. Loading zod and
 * building the schemas cost every sidecar ~14 MB of memory
 * (docs/decisions/0007-contract-validation-without-zod.md).
 */
const compactContracts = {
  name: 'weft-compact-contracts',
  setup(b) {
    const contracts = resolve('proxy/contracts');
    b.onResolve({ filter: /^\.\/validate$/ }, (args) =>
      args.resolveDir === contracts ? { path: join(contracts, 'validate-compact.ts') } : undefined,
    );
  },
};

/**
 * One copy of each package version in a bundle. The root of node_modules holds an old
 * @smithy/core for one dependency, so npm nests an identical copy of the current one under each
 * AWS client, and esbuild would bundle every copy: four of @smithy/core in the AWS SDK file. Every
 * copy of a name@version resolves to the same one, the first by path, so builds are reproducible.
 */
const onePackageCopy = {
  name: 'weft-one-package-copy',
  setup(b) {
    let firstCopy;
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.oneCopy) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { oneCopy: true } });
      if (r.errors.length > 0 || r.external) return undefined;
      const m = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(r.path);
      if (!m) return undefined;
      firstCopy ??= firstCopies(resolve('node_modules'));
      return { path: join(firstCopy.get(m[1]) ?? m[1], m[2]), sideEffects: r.sideEffects };
    });
  },
};

/** Each installed package root under `dir` (nested ones included), mapped to the first root by path holding the same name@version. */
function firstCopies(dir) {
  const byVersion = new Map();
  const visit = (modules) => {
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const roots = entry.name.startsWith('@')
        ? readdirSync(join(modules, entry.name), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(modules, entry.name, e.name))
        : [join(modules, entry.name)];
      for (const root of roots) {
        if (!existsSync(join(root, 'package.json'))) continue;
        const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
        const key = `${name}@${version}`;
        byVersion.set(key, [...(byVersion.get(key) ?? []), root]);
        if (existsSync(join(root, 'node_modules'))) visit(join(root, 'node_modules'));
      }
    }
  };
  visit(dir);
  const first = new Map();
  for (const roots of byVersion.values()) {
    const canonical = [...roots].sort()[0];
    for (const root of roots) first.set(root, canonical);
  }
  return first;
}

/** Runs proxy/contracts/compact/describe.ts (bundled in memory) and returns its descriptions. */
async function contractDescriptions() {
  const out = await build({
    ...common,
    sourcemap: false,
    write: false,
    entryPoints: ['proxy/contracts/compact/describe.ts'],
    target: 'node20',
    packages: 'external',
  });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  return mod.exports.describeContracts();
}

/**
 * Escapes the non-ASCII characters esbuild leaves in comments (it escapes them in strings and
 * identifiers). One such character makes V8 hold the whole script as a two-byte string: for the
 * sidecar bundle, 1.9 MB of heap instead of 0.96 MB, in every sidecar. `\uXXXX` means the same in a
 * comment, a string or a regular expression, so the code is unchanged
 * (docs/decisions/0014-sidecar-loads-only-what-runs.md).
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

const sidecarOnly = process.argv.indexOf('--sidecar');
if (sidecarOnly >= 0) {
  await buildSidecar(process.argv[sidecarOnly + 1] ?? 'dist');
  process.exit(0);
}

const entries = [
  { in: 'bin/weft.ts', out: 'weft', banner: '#!/usr/bin/env node' },
  { in: 'bench/run.ts', out: 'bench' },
  { in: 'bench/memory.ts', out: 'memory' },
  // The bench's Node byte relay runs alone, without the harness in its heap (bench/node-relay.ts).
  { in: 'bench/node-relay-main.ts', out: 'node-relay' },
  { in: 'bin/example-app.ts', out: 'example-app' },
].filter((e) => existsSync(e.in));

await Promise.all([
  ...entries.map((e) =>
    build({
      ...common,
      entryPoints: [e.in],
      outfile: `dist/${e.out}.js`,
      target: 'node20',
      packages: 'external',
      banner: e.banner ? { js: e.banner } : undefined,
    }),
  ),
  buildSidecar('dist'),
]);

// `npx weft` executes the bin directly.
if (existsSync('dist/weft.js')) chmodSync('dist/weft.js', 0o755);

// The optional SO_ORIGINAL_DST addon (transparent-mode plain TCP). Its script prints a notice and
// exits 0 when g++, make or Node's headers are missing: the sidecar then refuses such TCP clearly.
execFileSync(process.execPath, ['native/original-dst/build.mjs'], { stdio: 'inherit' });
