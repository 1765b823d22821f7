import { unsupportedRegexFeature } from '../../../proxy/contracts/regex-rules';

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
