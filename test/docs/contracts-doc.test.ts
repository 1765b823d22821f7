import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS, CLOUD_MAP_ATTRIBUTES, CONTROL_HEADERS, NODE_CONFIG_FEATURES, nodeConfigKey, trustBundleKey, taskRegistryKey, certificateSecretName } from '../../proxy/contracts';

// docs/contracts.md is the human-readable side of proxy/contracts; this keeps the two in step.
const doc = readFileSync(join(__dirname, '../../docs/contracts.md'), 'utf8');

test.each(Object.values(SETTINGS).map((s) => [s.env, s] as const))('setting %s is documented with its flag, default and meaning as settings.ts says them', (_env, s) => {
  const def = s.default === undefined ? '—' : `\`${String(s.default)}\``;
  expect(doc).toContain(`| \`${s.env}\` | \`${s.flag}\` | ${def} | ${s.doc} |`);
});

test.each(Object.values(CLOUD_MAP_ATTRIBUTES))('Cloud Map attribute %s is documented', (key) => {
  expect(doc).toContain(`| \`${key}\` |`);
});

test.each(Object.values(CONTROL_HEADERS).filter((h) => h !== CONTROL_HEADERS.prefix))('control header %s is documented', (h) => {
  expect(doc).toContain(`| \`${h}\` |`);
});

test('layout functions are documented with the keys they produce', () => {
  expect(doc).toContain(`\`${nodeConfigKey('<mesh>', '<node>')}\``);
  expect(doc).toContain(`\`${trustBundleKey('<mesh>')}\``);
  expect(doc).toContain(`\`${taskRegistryKey('<mesh>')}\``);
  expect(doc).toContain(`\`${certificateSecretName('<mesh>', '<node>')}\``);
});

test('every node config field and value newer than v1 is in the schema versions table, with its version', () => {
  expect(doc).toContain('| every field and value not listed here | v1 |');
  for (const f of NODE_CONFIG_FEATURES) {
    const what = f.value === undefined ? `\`${f.path}\`` : `\`${f.path}\` = \`${JSON.stringify(f.value)}\``;
    expect(doc).toContain(`| ${what} | v${f.since} |`);
  }
});
