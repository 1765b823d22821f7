import { MAX_NESTING, parseSource } from '../../../../lib/model/front-ends/yaml-source';

const errorsOf = (...lines: string[]) => parseSource(lines.join('\n')).errors.map((e) => `${e.line}: ${e.message}`);

describe('syntax errors are reported at the line to edit', () => {
  test.each([
    ['an unclosed flow map', ['kind: Mesh', 'metadata: { name: m', 'spec: {}'], 2, /^Flow map in block collection must be sufficiently indented and end with a \}$/],
    ['an unclosed flow sequence', ['kind: Mesh', 'spec:', '  listeners: [a, b', 'other: 1'], 3, /^Flow sequence in block collection/],
    ['an unclosed flow sequence at the end of the file', ['kind: Mesh', 'spec:', '  listeners: [a,'], 3, /^Flow sequence in block collection/],
    ['an unclosed flow map inside a closed sequence', ['kind: Mesh', 'spec:', '  listeners: [a, { port: 1', '  other: 1'], 3, /^Flow map in block collection/],
    ['an unclosed double quote', ['kind: Mesh', 'metadata:', '  name: "m', 'spec: {}', 'x: 1'], 3, /^Missing closing "quote$/],
    ['an unclosed single quote', ['kind: Mesh', "metadata: { name: 'm }", 'spec: {}'], 2, /^Missing closing 'quote$/],
    ['a key without its colon', ['kind: Mesh', 'metadata', '  name: m'], 2, /^Implicit keys need to be on a single line$/],
    ['a key indented out of line', ['kind: Mesh', 'metadata:', '  name: m', ' mesh: x'], 4, /^All mapping items must start at the same column$/],
    ['a tab as indentation', ['kind: Mesh', 'metadata:', '\tname: m'], 3, /^Tabs are not allowed as indentation$/],
    ['a duplicate key', ['kind: Mesh', 'metadata: { name: m }', 'kind: Mesh'], 3, /^Map keys must be unique$/],
  ])('%s', (_shape, lines, line, message) => {
    const errors = parseSource(lines.join('\n')).errors;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].line).toBe(line);
    expect(errors[0].message).toMatch(message);
  });

  test('unclosed brackets of one kind on one line are one error; of two kinds, one each', () => {
    expect(errorsOf('a: 1', 'b: [[[1', 'c: 2')).toEqual(['2: Flow sequence in block collection must be sufficiently indented and end with a ]']);
    expect(errorsOf('a:', '  b: [1, {c: 2', '  d: 1')).toEqual([
      '2: Flow map in block collection must be sufficiently indented and end with a }',
      '2: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });
});

describe('input the parser should not be given', () => {
  test('a binary file: one error naming the first control byte and its line, nothing parsed', () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    const parsed = parseSource(`kind: Mesh\nmetadata: x\n${bytes.toString('latin1')}`);
    expect(parsed.documents).toEqual([]);
    expect(parsed.errors).toEqual([{ document: 0, line: 3, message: 'not a text file (control byte 0x00): mesh sources are YAML or JSON text' }]);
  });

  test('tabs, CR LF line ends and text beyond ASCII are text', () => {
    const parsed = parseSource('kind: Mesh\r\nmetadata: { name: "caf\u00e9\tbar" }\r\n');
    expect(parsed.errors).toEqual([]);
    expect(parsed.documents[0].doc.toJSON()).toEqual({ kind: 'Mesh', metadata: { name: 'caf\u00e9\tbar' } });
  });

  test.each([
    ['100,000 nested [', `${'\n'.repeat(4)}${'['.repeat(100_000)}`, 5],
    ['nested { and [ on several lines', `a:\n${'{b: [\n'.repeat(MAX_NESTING)}`, 2 + Math.floor(MAX_NESTING / 2)],
  ])('%s: one error, nesting too deep, at the line it gets too deep', (_shape, text, line) => {
    expect(parseSource(text).errors).toEqual([{ document: 0, line, message: `nesting too deep: more than ${MAX_NESTING} levels of [ and {` }]);
  });

  test(`${MAX_NESTING} levels parse; brackets in comments and quoted strings do not count`, () => {
    const deep = `${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`;
    expect(parseSource(deep).errors).toEqual([]);
    const quoted = `a: "${'['.repeat(MAX_NESTING + 1)}"\nb: '${'{'.repeat(MAX_NESTING + 1)}'\n# ${'['.repeat(MAX_NESTING + 1)}\nc: don't [x]\n`;
    expect(parseSource(quoted).errors).toEqual([]);
  });

  test('block nesting too deep for the parser is reported as such, not as a stack overflow', () => {
    const lines = ['a:'];
    for (let i = 1; i <= 3000; i++) lines.push(`${' '.repeat(i)}k${i}:`);
    const errors = parseSource(`${lines.join('\n')} 1\n`).errors;
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/^nesting too deep to read \(/);
  });
});
