/** The path authorization judges: no spelling of a path escapes its canonical form. */
import { authzPath } from '../../../proxy/policy/authz-path';

test.each([
  ['/api/v1/orders', '/api/v1/orders'],
  ['/api/v1/orders?x=/admin', '/api/v1/orders'],
  ['/api/v1/orders#frag', '/api/v1/orders'],
  ['/admin%2Fsecret', '/admin/secret'],
  ['/admin%2fsecret', '/admin/secret'],
  ['/admin%5Csecret', '/admin/secret'],
  ['/admin\\secret', '/admin/secret'],
  ['//admin///secret', '/admin/secret'],
  ['/admin;jsessionid=1', '/admin'],
  ['/admin;/secret', '/admin/secret'],
  ['/api/v1/%2e%2e%2fadmin', '/api/admin'],
  ['/api/v1/..%2F..%2Fadmin', '/admin'],
  ['/%61dmin', '/admin'],
  ['/a%20b', '/a%20b'],
  ['/a%3fb', '/a%3Fb'],
  ['/%252F', '/%252F'],
])('%s is judged as %s', (raw, canonical) => {
  expect(authzPath(raw)).toBe(canonical);
});

test('a plain path without a query is returned as it is', () => {
  const p = '/api/v1/inventory/items';
  expect(authzPath(p)).toBe(p);
});
