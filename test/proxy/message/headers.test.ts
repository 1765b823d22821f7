import { downstreamResponseHeaders, forwardedFor, peerAddress, splitHostPort } from '../../../proxy/message/headers';

describe('splitHostPort', () => {
  test.each([
    ['orders.demo.local', { host: 'orders.demo.local', port: undefined }],
    ['Orders.Demo.Local:8080', { host: 'orders.demo.local', port: 8080 }],
    ['[::1]:15001', { host: '::1', port: 15001 }],
    ['[::1]', { host: '::1', port: undefined }],
  ])('%s', (value, expected) => expect(splitHostPort(value)).toEqual(expected));

  test.each(['', ':80', 'a:0', 'a:65536', 'a:8x', 'a b:80', 'a/b', '[::1', '[::1]x'])('%j is refused', (value) => {
    expect(splitHostPort(value)).toBeUndefined();
  });
});

describe('forwardedFor', () => {
  test('no trusted hops: the chain is only the peer', () => expect(forwardedFor('1.1.1.1, 2.2.2.2', 0, '9.9.9.9')).toBe('9.9.9.9'));
  test('trusted hops keep the last entries', () => expect(forwardedFor('1.1.1.1,2.2.2.2, 3.3.3.3', 2, '9.9.9.9')).toBe('2.2.2.2, 3.3.3.3, 9.9.9.9'));
  test('a mesh peer keeps the whole chain', () => expect(forwardedFor(['1.1.1.1', '2.2.2.2'], Infinity, '9.9.9.9')).toBe('1.1.1.1,2.2.2.2, 9.9.9.9'));
  test('no incoming chain', () => expect(forwardedFor(undefined, 3, '9.9.9.9')).toBe('9.9.9.9'));
});

test('peerAddress unmaps IPv4-mapped IPv6', () => {
  expect(peerAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
  expect(peerAddress('::1')).toBe('::1');
});

test('response headers lose hop-by-hop fields, Connection-listed fields, and optionally x-weft-*', () => {
  const raw = ['Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'X-Weft-Error', 'E', 'Set-Cookie', 'a', 'Set-Cookie', 'b'].map((s) => Buffer.from(s));
  expect(downstreamResponseHeaders(raw, true)).toEqual(['content-type', 'text/plain', 'set-cookie', 'a', 'set-cookie', 'b']);
  expect(downstreamResponseHeaders(raw, false)).toContain('x-weft-error');
});
