import { spawnSync } from 'node:child_process';
import { linearRegexSource, unsupportedRegexFeature } from '../../../proxy/contracts/regex-rules';
import { seededRandom } from '../../seeded-random';

describe('route regexes are RE2\'s language', () => {
  test.each([
    ['/orders/[0-9]+', undefined],
    ['^/api/v[0-9]{1,3}/.*$', undefined],
    ['(a+)+', undefined],
    ['[\\1-\\9]x', undefined], // escaped digits inside a class are characters
    ['\\\\1', undefined], // an escaped backslash, then a literal 1
    ['a(?:b|c)', undefined], // non-capturing group
    ['(?<name>[a-z]+)', undefined], // named group, not a lookbehind
    ['[(?=]', undefined], // inside a class
    ['(a)\\1', 'a backreference (\\1)'],
    ['(?<n>a)\\k<n>', 'a named backreference (\\k<...>)'],
    ['/x(?=y)', 'a lookahead ((?=)'],
    ['/x(?!y)', 'a lookahead ((?!)'],
    ['(?<=a)b', 'a lookbehind ((?<=)'],
    ['(?<!a)b', 'a lookbehind ((?<!)'],
  ])('%s', (source, expected) => {
    expect(unsupportedRegexFeature(source)).toBe(expected);
  });
});

describe('counted repetition V8\'s linear-time engine cannot unroll', () => {
  test.each([
    ['[a-f0-9]{64}', undefined], // split into counts of 16
    ['^([a-z]{1,64})+$', undefined], // split into counts of 8: the + makes two copies
    ['(?:x{8}){2}', undefined], // 16 copies in all
    ['(?:x{9}){2}', undefined], // x{9} split into x{8}x{1}
    ['(?:(?:x{4}){2}){3}', undefined],
    ['a{,5}', undefined], // not a quantifier: literal characters
    ['[{]{20}', undefined],
    ['x{1000}', undefined],
    ['x{1001}', 'a repetition count above 1000 ({1001})'],
    ['x{2,1001}?', 'a repetition count above 1000 ({2,1001}?)'],
    ['(ab){17}', 'a repeated group that unrolls to more than 16 copies ({17} on (ab))'],
    ['(?:x*){17}', 'a repeated group that unrolls to more than 16 copies ({17} on (?:x*))'],
    ['(?:(?:ab){5}){4}', 'a repeated group that unrolls to more than 16 copies ({5} on (?:ab))'],
    ['(?:(?:ab)+){8,}', 'a repeated group that unrolls to more than 16 copies (+ on (?:ab))'],
  ])('%s', (source, expected) => {
    expect(unsupportedRegexFeature(source)).toBe(expected);
  });

  test.each([
    ['[a-f0-9]{64}', '[a-f0-9]{16}[a-f0-9]{16}[a-f0-9]{16}[a-f0-9]{16}'],
    ['x{1,40}', 'x{1}x{0,16}x{0,16}x{0,7}'],
    ['x{20,}?', 'x{16}x{4}x*?'],
    ['\\d{0,17}?', '\\d{0,16}?\\d{0,1}?'],
    ['(?:x+){16}', '(?:x{1}x*){16}'],
    ['^(/[a-z\\]]{1,20})+/(?<id>\\x41{18})$', '^(/[a-z\\]]{1}[a-z\\]]{0,8}[a-z\\]]{0,8}[a-z\\]]{0,3})+/(?<id>\\x41{16}\\x41{2})$'],
    ['a{2,16}|b{17}', 'a{2,16}|b{16}b{1}'],
    ['/orders/[0-9]+', '/orders/[0-9]+'],
  ])('linearRegexSource(%s)', (source, expected) => {
    expect(linearRegexSource(source)).toBe(expected);
  });

  test('any input ends the scan, compiling or not (the parser always advances)', () => {
    const random = seededRandom(11);
    const alphabet = ['(', ')', '(?:', '(?<n>', '(?i:', '(?-s:', '[', ']', '\\', '{', '}', '{20}', '{1,64}', '+', '*', '?', '|', 'a', '^', '$', ','];
    for (let n = 0; n < 2000; n++) {
      const source = Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      expect(() => [unsupportedRegexFeature(source), linearRegexSource(source)]).not.toThrow();
    }
  });

  const hasModifiers = ((): boolean => {
    try {
      new RegExp('(?i:a)');
      return true;
    } catch {
      return false;
    }
  })();
  (hasModifiers ? test : test.skip)('modifier groups ((?i:...), Node 24) are groups like any other', () => {
    expect(linearRegexSource('(?i:[a-f0-9]{20})')).toBe('(?i:[a-f0-9]{16}[a-f0-9]{4})');
    expect(unsupportedRegexFeature('(?-i:ab){17}')).toBe('a repeated group that unrolls to more than 16 copies ({17} on (?-i:ab))');
    expect(new RegExp(`^(?:${linearRegexSource('(?i:[a-f]{20})')})$`).test('ABCDEFABCDEFABCDEFAB')).toBe(true);
  });

  test('the split form matches exactly the strings the original matches', () => {
    const random = seededRandom(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const atoms = ['a', 'b', '[ab]', '.', '\\w', '[^b]'];
    for (let n = 0; n < 300; n++) {
      const min = Math.floor(random() * 40);
      const max = pick([min, min + Math.floor(random() * 40), Infinity]);
      const count = max === Infinity ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
      const source = `${pick(['', 'a', '(?:ab)+'])}${pick(atoms)}${count}${pick(['', '?'])}${pick(['', 'b', '[ab]{2,3}'])}`;
      const original = new RegExp(`^(?:${source})$`);
      const split = new RegExp(`^(?:${linearRegexSource(source)})$`);
      for (let k = 0; k < 20; k++) {
        const input = Array.from({ length: Math.floor(random() * 90) }, () => pick(['a', 'b', 'c'])).join('');
        if (original.test(input) !== split.test(input)) throw new Error(`${source} vs ${linearRegexSource(source)} on ${input}`);
      }
    }
  });

  test('what the rule accepts, V8\'s linear-time engine takes after the split, and what it refuses, V8 refuses', () => {
    const sources = [
      '[a-f0-9]{64}', '^([a-z]{1,64})+$', '(?:x{8}){2}', '(?:x{8}){2,}', '(?:x{4}){4,}', '(?:x{16})+', '(?:x*){16}', '(?:x?){16}',
      '(?:x{2}){0,8}', 'x{17,}', '(?:[a-z]{1,40}/)+', 'x{0,16}y{0,16}z{0,16}', '(?:x{16}|y{16}){1}', '(?:x+){16}',
      '(?:x{9}){2}', '(?:x{2}){0,9}', '(?:(?:x{4}){2}){3}', '(?:[a-z]{1,64}){2}', '(?:x{5}){4,}', '((?:ab){2}c{20}){3}',
      '(ab){17}', '(?:x*){17}', '(?:(?:ab){5}){4}', '(?:(?:ab){9}){2}',
    ];
    const verdicts = sources.map((s) => ({ source: linearRegexSource(s), accepted: unsupportedRegexFeature(s) === undefined }));
    const script = `const vs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
      process.stdout.write(JSON.stringify(vs.map((v) => { try { new RegExp(v.source, 'l'); return true; } catch { return false; } })));`;
    const run = spawnSync(process.execPath, ['--enable-experimental-regexp-engine', '-e', script], { input: JSON.stringify(verdicts), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const linear = JSON.parse(run.stdout) as boolean[];
    expect(sources.map((s, i) => [s, linear[i]])).toEqual(sources.map((s, i) => [s, verdicts[i].accepted]));
    expect(verdicts.filter((v) => v.accepted).length).toBeGreaterThan(10);
  });
});
