/**
 * The layering rules in eslint.config.mjs, run through ESLint itself (in a child process: its
 * flat config loads as an ES module, which jest's module system does not): an import that goes up
 * a layer of proxy/, or CDK in lib/model/, fails the lint, and imports downwards pass.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');

interface Case {
  file: string;
  code: string;
}

/** Lints each case's code as if it were that file; returns each case's no-restricted-imports messages. */
async function restrictedImports(cases: Case[]): Promise<string[][]> {
  const script = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(process.argv[1]);
    const eslint = new ESLint({ cwd: process.cwd() });
    Promise.all(cases.map(async (c) => {
      const [result] = await eslint.lintText(c.code, { filePath: require('node:path').join(process.cwd(), c.file) });
      return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
    })).then((out) => process.stdout.write(JSON.stringify(out)));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, JSON.stringify(cases)], { cwd: root });
  return JSON.parse(stdout) as string[][];
}

const upward: [string, string, string][] = [
  ['proxy/h1/wrong.ts', "import { normalizePath } from '../message/request-path';\nexport const x = normalizePath;\n", 'h1 may not import message'],
  ['proxy/cluster/wrong.ts', "import { Listener } from '../http/listener';\nexport const x = Listener;\n", 'cluster may not import http'],
  ['proxy/balancer/wrong.ts', "import type { RouteTable } from '../routing/types';\nexport type X = RouteTable;\n", 'balancer may not import routing'],
  ['proxy/errors.ts', "import { SIDECAR_START_FAILED } from './main';\nexport const x = SIDECAR_START_FAILED;\n", 'may not import main.ts'],
];
const downward: Case = { file: 'proxy/http/fine.ts', code: "import { joinStreams } from '../cluster/tunnel';\nexport const x = joinStreams;\n" };
const local: Case[] = [
  { file: 'local/wrong.ts', code: "import { Listener } from '../proxy/http/listener';\nimport { App } from 'aws-cdk-lib';\nexport const x = [Listener, App];\n" },
  { file: 'local/fine.ts', code: "import { CERTIFICATE_FILES } from '../proxy/contracts';\nimport { SIDECAR_NODE_FLAGS } from '../proxy/sidecar-runtime';\nexport const x = [CERTIFICATE_FILES, SIDECAR_NODE_FLAGS];\n" },
];
const model: Case = { file: 'lib/model/wrong.ts', code: "import { Duration } from 'aws-cdk-lib';\nimport { Construct } from 'constructs';\nexport const x = [Duration, Construct];\n" };

let results: string[][];
beforeAll(async () => {
  results = await restrictedImports([...upward.map(([file, code]) => ({ file, code })), downward, model, ...local]);
}, 60_000);

test.each(upward.map((c, i) => [c[0], i, c[2]] as const))('%s: an import from a layer above fails the lint', (_file, i, message) => {
  expect(results[i]).toHaveLength(1);
  expect(results[i][0]).toContain(message);
});

test('an import from a layer below passes', () => {
  expect(results[upward.length]).toEqual([]);
});

test('lib/model/ may not import aws-cdk-lib or constructs', () => {
  const found = results[upward.length + 1];
  expect(found).toHaveLength(2);
  expect(found.join('\n')).toContain('aws-cdk-lib');
  expect(found.join('\n')).toContain('CDK');
});

test('local/ may import the contracts, not the sidecar internals or the CDK', () => {
  const [wrong, fine] = results.slice(upward.length + 2);
  expect(wrong).toHaveLength(2);
  expect(wrong.join('\n')).toContain('runs the sidecar as a process');
  expect(wrong.join('\n')).toContain('aws-cdk-lib');
  expect(fine).toEqual([]);
});
