import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The sidecar's layers, lowest first: a module may import its own layer and the layers below,
 * never one above. Shared interfaces live in the lowest layer that needs them (the endpoint in
 * endpoints/, the balancer's in balancer/, the upstream's in cluster/, the proxy context in
 * config/), so each feature is one layer on top of the ones it uses.
 */
export const PROXY_LAYERS = [
  ['contracts'],
  ['errors.ts', 'log.ts', 'stats.ts', 'sidecar-runtime.ts', 'seeded-random.ts'],
  ['h1'],
  ['message'],
  ['sources'],
  ['endpoints'],
  ['aws'],
  ['tls'],
  ['balancer'],
  ['cluster'],
  ['health'],
  ['routing'],
  ['exchange'],
  ['telemetry'],
  ['resilience'],
  ['policy'],
  ['config'],
  ['tcp'],
  ['transparent'],
  ['http'],
  ['admin'],
  ['main.ts', 'entry.ts'],
];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regex matching relative imports of a proxy/ directory or root module, from anywhere inside proxy/. */
function importOf(entry) {
  const name = entry.endsWith('.ts') ? escape(entry.slice(0, -3)) : escape(entry);
  const tail = entry.endsWith('.ts') ? '$' : '(/|$)';
  return `^\\.{1,2}/(\\.\\./)*${name}${tail}`;
}

function layerRules() {
  return PROXY_LAYERS.map((layer, rank) => {
    const above = PROXY_LAYERS.slice(rank + 1).flat();
    const files = layer.map((entry) => (entry.endsWith('.ts') ? `proxy/${entry}` : `proxy/${entry}/**/*.ts`));
    return {
      files,
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: above.map((entry) => ({
              regex: importOf(entry),
              message: `proxy/ is layered (eslint.config.mjs PROXY_LAYERS): ${layer.join(', ')} may not import ${entry}, a layer above it. Move the shared part down to the layer that owns it.`,
            })),
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'cdk.out/**', 'node_modules/**', '**/*.js', '**/*.mjs', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  ...layerRules(),
  {
    // weft up (local/) runs the sidecar as a child process, as users run it: it shares the
    // contracts, the runtime flags and the file watch, never the sidecar's internals; and, like
    // the model, it runs without CDK.
    files: ['local/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'constructs', message: 'local/ imports nothing from the CDK: weft up runs without it.' }],
          patterns: [
            { regex: '^aws-cdk-lib(/|$)', message: 'local/ imports nothing from aws-cdk-lib: weft up runs without it.' },
            {
              regex: '^\\.\\./proxy/(?!contracts(/|$)|sidecar-runtime$|sources/file-watch$)',
              message: 'local/ runs the sidecar as a process (weft proxy): import only proxy/contracts, proxy/sidecar-runtime and proxy/sources/file-watch from proxy/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The mesh model is shared by the CLI, the compiler and the constructs: no CDK in it.
    files: ['lib/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'constructs', message: 'lib/model/ imports nothing from the CDK: the CLI and the sidecar contracts use it without CDK.' }],
          patterns: [{ regex: '^aws-cdk-lib(/|$)', message: 'lib/model/ imports nothing from aws-cdk-lib: the CLI and tests use it without CDK.' }],
        },
      ],
    },
  },
);
