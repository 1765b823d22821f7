import { connect } from 'node:net';
import { agent, get, nodeBody, startUpstream, startWith, type Running, type Upstream } from '../harness';

let app: Upstream;
beforeAll(async () => {
  app = await startUpstream('app');
});
afterAll(async () => {
  await Promise.all([app.close(), agent.close()]);
});

/** Writes raw bytes and collects everything until the sidecar closes the connection. */
function raw(port: number, data: string | string[], pauseMs = 0): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const parts = Array.isArray(data) ? data : [data];
    socket.on('connect', async () => {
      for (const p of parts) {
        socket.write(p);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ text, closed: true });
    });
    const guard = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, 8_000);
  });
}

describe('inbound listener request hygiene', () => {
  let sidecar: Running;
  let port: number;
  beforeAll(async () => {
    sidecar = await startWith(nodeBody({}), {
      appPorts: [String(app.port)],
      maxRequestBodyBytes: 100,
      maxRequestHeaders: 20,
      maxRequestHeadersBytes: 4096,
      requestHeadersTimeoutMs: 300,
    });
    port = sidecar.handle.ports.inbound!;
  });
  afterAll(() => sidecar.close());

  const smuggling: Record<string, string> = {
    'Content-Length with Transfer-Encoding': 'POST /a HTTP/1.1\r\nHost: app\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'differing duplicate Content-Length': 'POST /a HTTP/1.1\r\nHost: app\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n',
    'obs-fold': 'GET /a HTTP/1.1\r\nHost: app\r\nX-Folded: one\r\n two\r\n\r\n',
    'whitespace before a colon': 'GET /a HTTP/1.1\r\nHost: app\r\nX-Space : one\r\n\r\n',
  };
  test.each(Object.entries(smuggling))('%s: 400, connection closed, nothing reaches the app', async (_name, head) => {
    const before = app.seen.length;
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n';
    const res = await raw(port, head + smuggled);
    expect(res.text).toMatch(/^HTTP\/1.1 400 /);
    expect(res.text).toContain('x-weft-error: WEFT_ERR_BAD_REQUEST');
    expect(res.closed).toBe(true);
    // Exactly one response: the smuggled request was never parsed as a second request.
    expect(res.text.match(/HTTP\/1.1 /g)).toHaveLength(1);
    expect(app.seen.slice(before).map((r) => r.url)).toEqual([]);
  });

  test('too many headers: 431', async () => {
    const headers = Array.from({ length: 25 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const res = await raw(port, `GET /many HTTP/1.1\r\nHost: app\r\n${headers}\r\n`);
    expect(res.text).toMatch(/^HTTP\/1.1 431 /);
    expect(res.text).toContain('x-weft-error: WEFT_ERR_REQUEST_HEADERS_TOO_LARGE');
    expect(app.seen.some((r) => r.url === '/many')).toBe(false);
  });

  test('a header block over the size limit: 431', async () => {
    const res = await raw(port, `GET /big HTTP/1.1\r\nHost: app\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    expect(res.text).toMatch(/^HTTP\/1.1 431 /);
    expect(res.text).toContain('x-weft-error: WEFT_ERR_REQUEST_HEADERS_TOO_LARGE');
  });

  test('headers that do not arrive in time: 408', async () => {
    const res = await raw(port, 'GET /slow HTTP/1.1\r\nHost: app\r\n');
    expect(res.text).toMatch(/^HTTP\/1.1 408 /);
    expect(res.text).toContain('x-weft-error: WEFT_ERR_REQUEST_HEADERS_TIMEOUT');
    expect(res.closed).toBe(true);
  });

  test('a declared body over the limit: 413 before anything is forwarded', async () => {
    const res = await get(port, '/upload', { host: 'app' }, 'POST', 'x'.repeat(200));
    expect(res.status).toBe(413);
    expect(res.headers['x-weft-error']).toBe('WEFT_ERR_REQUEST_BODY_TOO_LARGE');
    expect(app.seen.some((r) => r.url === '/upload')).toBe(false);
  });

  test('a chunked body that grows over the limit: 413', async () => {
    const chunk = 'x'.repeat(60);
    const res = await raw(port, `POST /chunked HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n${(60).toString(16)}\r\n${chunk}\r\n${(60).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    expect(res.text).toMatch(/^HTTP\/1.1 413 /);
    expect(app.seen.some((r) => r.url === '/chunked' && r.body.length > 100)).toBe(false);
  });

  test('a chunked body under the limit reaches the app intact', async () => {
    const res = await raw(port, ['POST /small-chunked HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', '1e\r\n' + 'a'.repeat(30) + '\r\n', '1e\r\n' + 'b'.repeat(30) + '\r\n0\r\n\r\n'], 50);
    expect(res.text).toMatch(/^HTTP\/1.1 200 /);
    expect(app.seen.find((r) => r.url === '/small-chunked')!.body).toBe('a'.repeat(30) + 'b'.repeat(30));
  });

  test('hop-by-hop fields and x-weft-* from an untrusted peer never reach the app, or come back', async () => {
    const res = await raw(
      port,
      'GET /hop HTTP/1.1\r\nHost: app\r\nConnection: x-private, close\r\nX-Private: 1\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\n' +
        'Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Weft-Target-Port: 9999\r\nX-Weft-Anything: forged\r\nX-Kept: yes\r\n\r\n',
    );
    expect(res.text).toMatch(/^HTTP\/1.1 200 /);
    const seen = app.seen.find((r) => r.url === '/hop')!;
    // The only Connection field is the proxy's own hop to the app.
    expect(seen.headers.connection ?? 'keep-alive').toBe('keep-alive');
    for (const name of ['x-private', 'keep-alive', 'te', 'proxy-connection', 'upgrade', 'x-weft-target-port', 'x-weft-anything']) {
      expect(seen.headers[name]).toBeUndefined();
    }
    expect(seen.headers['x-kept']).toBe('yes');
    // The app's response listed x-upstream-private in Connection: the client must not see it.
    const head = res.text.split('\r\n\r\n')[0].toLowerCase();
    expect(head).toContain('x-upstream: app');
    expect(head).not.toContain('x-upstream-private');
    expect(head).not.toContain('keep-alive: timeout=5');
  });

  test('x-request-id is generated when absent and kept when present', async () => {
    const generated = (await get(port, '/id1', { host: 'app' })).json().headers['x-request-id'];
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const kept = (await get(port, '/id2', { host: 'app', 'x-request-id': 'abc-123' })).json().headers['x-request-id'];
    expect(kept).toBe('abc-123');
  });

  test('X-Forwarded-For: an untrusted chain is replaced by the peer; proto is set', async () => {
    const seen = (await get(port, '/xff', { host: 'app', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' })).json().headers;
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
  });
});

describe('trusted hops', () => {
  let sidecar: Running;
  beforeAll(async () => {
    sidecar = await startWith(nodeBody({}), { appPorts: [String(app.port)], trustedHops: 1 });
  });
  afterAll(() => sidecar.close());

  test('X-Forwarded-For keeps the trusted hops and appends the peer', async () => {
    const seen = (await get(sidecar.handle.ports.inbound!, '/xff', { host: 'app', 'x-forwarded-for': '6.6.6.6, 10.1.1.1', 'x-forwarded-proto': 'https' })).json().headers;
    expect(seen['x-forwarded-for']).toBe('10.1.1.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('https');
  });
});
