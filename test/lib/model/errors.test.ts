import { formatModelError, formatModelWarning, type ModelError } from '../../../lib/model/errors';

describe('what an error echoes of the input is capped and escaped', () => {
  const name = 'n'.repeat(5_000_000);

  test('a 5 MB name is cut to 200 characters, with an ellipsis and its length, wherever it appears', () => {
    const e: ModelError = { file: 'a.yaml', line: 3, resource: `VirtualNode/${name}`, path: 'metadata.name', message: `must be at most 255 characters, got: ${name}` };
    const cut = `${'n'.repeat(188)}... (5000012 characters)`;
    expect(formatModelError(e)).toBe(`a.yaml:3: VirtualNode/${cut}: metadata.name: must be at most 255 characters, got: ${'n'.repeat(200)}... (5000000 characters)`);
    expect(formatModelWarning(e)).toBe(`a.yaml:3: warning: VirtualNode/${cut}: metadata.name: must be at most 255 characters, got: ${'n'.repeat(200)}... (5000000 characters)`);
  });

  test('a long value with spaces is cut as a whole part, at 1,000 characters', () => {
    const line = formatModelError({ file: 'a.yaml', path: 'spec', message: `got: ${'word '.repeat(1_000)}` });
    expect(line).toBe(`a.yaml: spec: got: ${'word '.repeat(1_000).slice(0, 995)}... (5005 characters)`);
  });

  test('control characters and text-reordering characters are escaped, so an error cannot rewrite the terminal', () => {
    const line = formatModelError({ file: 'a\u0007.yaml', path: 'metadata.name', message: 'got: \u001b[2J\u0000x\ny\t\u0085\u202e\u2028' });
    expect(line).toBe('a\\x07.yaml: metadata.name: got: \\x1b[2J\\x00x\\ny\\t\\x85\\u202e\\u2028');
  });

  test('what is short and printable is printed as it is', () => {
    const e: ModelError = { file: 'mesh.yaml', line: 7, resource: 'Route/caf\u00e9', path: 'spec.httpRoute', message: 'must be one of a, b, got: c' };
    expect(formatModelError(e)).toBe('mesh.yaml:7: Route/caf\u00e9: spec.httpRoute: must be one of a, b, got: c');
  });
});
