/**
 * The HTTP/1.1 upstream against scripted raw-socket servers on 127.0.0.1: each test's server
 * answers with exact bytes, so framing, reuse and failure handling are checked on the wire.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { H1Upstream, type H1UpstreamOptions } from '../../../proxy/cluster/h1-upstream';

interface Received {
  /** Raw bytes of each request as the server read them, per connection. */
  connections: string[];
}

/** A server that calls `answer` with each complete request (head + body as text) and its socket. */
async function scripted(answer: (request: string, socket: Socket, index: number) => void, until = '\r\n\r\n'): Promise<{ server: Server; port: number; rx: Received }> {
  const rx: Received = { connections: [] };
  let index = 0;
  const server = createServer((socket) => {
    const conn = rx.connections.push('') - 1;
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      rx.connections[conn] += chunk.toString('latin1');
      buf += chunk.toString('latin1');
      // A request ends at the blank line, or at the terminator the test names (bodies).
      let end = buf.indexOf(until);
      while (end >= 0) {
        const request = buf.slice(0, end + until.length);
        buf = buf.slice(end + until.length);
        answer(request, socket, index++);
        end = buf.indexOf(until);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, rx };
}

interface Outcome {
  status?: number;
  statusText?: string;
  headers?: string[];
  body: Buffer;
  trailers?: string[] | null;
  error?: Error & { code?: string };
  connected: boolean;
}

/** Dispatches one request and collects what the handler callbacks saw. */
function send(upstream: H1Upstream, options: Partial<Dispatcher.DispatchOptions> = {}, onData?: (chunk: Buffer, resume: () => void) => boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const out: Outcome = { body: Buffer.alloc(0), connected: false };
    let resume: () => void = () => undefined;
    upstream.dispatch({ path: '/', method: 'GET', headers: { host: 'svc' }, ...options } as Dispatcher.DispatchOptions, {
      onConnect: () => (out.connected = true),
      onHeaders: (status, headers, res, statusText) => {
        out.status = status;
        out.statusText = statusText;
        out.headers = headers.map(String);
        resume = res;
        return true;
      },
      onData: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return onData ? onData(chunk, resume) : true;
      },
      onComplete: (trailers) => {
        out.body = Buffer.concat(chunks);
        out.trailers = trailers as string[] | null;
        resolve(out);
      },
      onError: (err) => {
        out.error = err;
        out.body = Buffer.concat(chunks);
        resolve(out);
      },
    });
  });
}

const servers: Server[] = [];
const pools: H1Upstream[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function pool(port: number, opts: Partial<H1UpstreamOptions> = {}): H1Upstream {
  const p = new H1Upstream({ host: '127.0.0.1', port, tls: undefined, maxConnections: 4, connectTimeoutMs: 2_000, idleTimeoutMs: 4_000, maxRequestsPerConnection: 0, ...opts });
  pools.push(p);
  return p;
}

async function server(answer: (request: string, socket: Socket, index: number) => void, until?: string): Promise<{ port: number; rx: Received }> {
  const s = await scripted(answer, until);
  servers.push(s.server);
  return s;
}

test('sends the request head as given and reuses the kept-alive connection', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello'));
  const up = pool(port);
  const first = await send(up, { path: '/a?b=1', headers: { host: 'svc', 'x-multi': ['1', '2'] } });
  const second = await send(up);
  expect(first).toMatchObject({ status: 200, statusText: 'OK', connected: true });
  expect(first.headers).toEqual(['content-length', '5', 'x-a', '1']);
  expect(first.body.toString()).toBe('hello');
  expect(second.body.toString()).toBe('hello');
  expect(rx.connections).toHaveLength(1);
  expect(rx.connections[0]).toBe('GET /a?b=1 HTTP/1.1\r\nhost: svc\r\nx-multi: 1\r\nx-multi: 2\r\n\r\nGET / HTTP/1.1\r\nhost: svc\r\n\r\n');
});

test('a header value that would split the head is not sent', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 204 No Content\r\n\r\n'));
  const out = await send(pool(port), { headers: { host: 'svc', 'x-evil': 'a\r\nx-injected: 1', 'x-ok': 'fine' } });
  expect(out.status).toBe(204);
  expect(rx.connections[0]).toBe('GET / HTTP/1.1\r\nhost: svc\r\nx-ok: fine\r\n\r\n');
});

test('a body of known length is sent as is', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 'END');
  const out = await send(pool(port), { method: 'POST', headers: { host: 'svc', 'content-length': '5' }, body: Readable.from([Buffer.from('ab'), Buffer.from('END')]) });
  expect(out.status).toBe(200);
  expect(rx.connections[0]).toBe('POST / HTTP/1.1\r\nhost: svc\r\ncontent-length: 5\r\n\r\nabEND');
});

test('a body of unknown length is chunked, with the stream\'s trailers after the last chunk', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 'x-sum: 9\r\n\r\n');
  const body = Readable.from([Buffer.from('xy'), Buffer.from('zEND')]);
  body.on('end', () => Object.assign(body, { trailers: { 'x-sum': '9' } }));
  const out = await send(pool(port), { method: 'POST', headers: { host: 'svc' }, body });
  expect(out.status).toBe(200);
  expect(rx.connections[0]).toBe('POST / HTTP/1.1\r\nhost: svc\r\ntransfer-encoding: chunked\r\n\r\n2\r\nxy\r\n4\r\nzEND\r\n0\r\nx-sum: 9\r\n\r\n');
});

test('chunked responses are decoded and their trailers reported; until-close bodies end with the connection', async () => {
  const { port } = await server((req, socket) => {
    if (req.startsWith('GET /chunked')) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\ngrpc-status: 0\r\n\r\n');
    else {
      socket.write('HTTP/1.1 200 OK\r\n\r\nuntil');
      setTimeout(() => socket.end('-close'), 20);
    }
  });
  const up = pool(port);
  const chunked = await send(up, { path: '/chunked' });
  expect(chunked.body.toString()).toBe('abcde');
  expect(chunked.trailers).toEqual(['grpc-status', '0']);
  const untilClose = await send(up, { path: '/close' });
  expect(untilClose.body.toString()).toBe('until-close');
  expect(untilClose.error).toBeUndefined();
});

test('HEAD, 204 and 304 responses have no body even with a Content-Length, and the connection is reused', async () => {
  const { port, rx } = await server((req, socket) => {
    if (req.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
    else if (req.startsWith('GET /304')) socket.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 100\r\n\r\n');
    else socket.write('HTTP/1.1 204 No Content\r\n\r\n');
  });
  const up = pool(port, { maxConnections: 1 });
  expect((await send(up, { method: 'HEAD' })).status).toBe(200);
  expect((await send(up, { path: '/304' })).status).toBe(304);
  expect((await send(up, { path: '/204' })).status).toBe(204);
  expect(rx.connections).toHaveLength(1);
});

test('interim 1xx responses are skipped and the final one delivered', async () => {
  const { port } = await server((_req, socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nz'));
  const out = await send(pool(port));
  expect(out.status).toBe(200);
  expect(out.body.toString()).toBe('z');
});

test('a malformed response head or chunked body is an error, never a response', async () => {
  const { port } = await server((req, socket) => {
    if (req.startsWith('GET /head')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab');
    else socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
  });
  const up = pool(port);
  expect((await send(up, { path: '/head' })).error?.code).toBe('UND_ERR_INVALID_RESPONSE');
  expect((await send(up, { path: '/chunked' })).error?.code).toBe('UND_ERR_INVALID_RESPONSE');
});

test('bytes past the end of a response retire the connection instead of poisoning the next response', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil'));
  const up = pool(port);
  expect((await send(up)).body.toString()).toBe('ok');
  expect((await send(up)).body.toString()).toBe('ok');
  expect(rx.connections).toHaveLength(2);
});

test('a bodiless request whose reused connection was closed unanswered is sent again on a new one', async () => {
  const { port, rx } = await server((_req, socket, index) => {
    // The second request arrives on a connection the server then drops (the keep-alive race).
    if (index === 1) socket.destroy();
    else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const up = pool(port, { maxConnections: 1 });
  expect((await send(up)).status).toBe(200);
  const again = await send(up);
  expect(again.status).toBe(200);
  expect(rx.connections).toHaveLength(2);
});

test('a request with a body is not sent twice: the dropped connection is an error', async () => {
  const { port } = await server((_req, socket, index) => {
    if (index === 1) socket.destroy();
    else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  }, 'END');
  const up = pool(port, { maxConnections: 1 });
  expect((await send(up, { method: 'POST', headers: { host: 'svc', 'content-length': '3' }, body: Readable.from([Buffer.from('END')]) })).status).toBe(200);
  const out = await send(up, { method: 'POST', headers: { host: 'svc', 'content-length': '3' }, body: Readable.from([Buffer.from('END')]) });
  expect(out.error?.code).toBe('UND_ERR_SOCKET');
  expect(out.connected).toBe(true);
});

test('a refused connection fails without onConnect', async () => {
  const { port } = await server(() => undefined);
  const closed = servers.pop()!;
  await new Promise((r) => closed.close(r));
  const out = await send(pool(port));
  expect(out.connected).toBe(false);
  expect(out.error?.code).toBe('ECONNREFUSED');
});

test('requests beyond maxConnections wait for a free connection', async () => {
  const { port, rx } = await server((_req, socket) => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx'), 20));
  const up = pool(port, { maxConnections: 1 });
  const all = await Promise.all([send(up), send(up), send(up)]);
  expect(all.map((o) => o.status)).toEqual([200, 200, 200]);
  expect(rx.connections).toHaveLength(1);
});

test('maxRequestsPerConnection closes a connection after its last request', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx'));
  const up = pool(port, { maxConnections: 1, maxRequestsPerConnection: 2 });
  for (let i = 0; i < 3; i++) expect((await send(up)).status).toBe(200);
  expect(rx.connections).toHaveLength(2);
  expect(rx.connections[0]).toMatch(/GET \/ HTTP\/1\.1\r\nhost: svc\r\nconnection: close\r\n\r\n$/);
});

test('a handler that refuses data pauses the connection until it resumes', async () => {
  const big = Buffer.alloc(512 * 1024, 'a');
  const { port } = await server((_req, socket) => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`), big])));
  let paused = 0;
  const out = await send(pool(port), {}, (_chunk, resume) => {
    paused++;
    setTimeout(resume, 1);
    return false;
  });
  expect(out.body.length).toBe(big.length);
  expect(paused).toBeGreaterThan(1);
});

test('idle connections are closed after idleTimeoutMs', async () => {
  let closed = 0;
  const { port } = await server((_req, socket) => {
    socket.once('close', () => closed++);
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx');
  });
  const up = pool(port, { idleTimeoutMs: 100 });
  await send(up);
  expect(up.size).toBe(1);
  while (up.size > 0 || closed === 0) await new Promise((r) => setTimeout(r, 50));
  expect(closed).toBe(1);
});

test('close() waits for the request in flight, destroy() fails what is queued', async () => {
  // The server holds its answer until close() has been called.
  let arrived: () => void = () => undefined;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  let answer: () => void = () => undefined;
  const { port } = await server((_req, socket) => {
    answer = () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx');
    arrived();
  });
  const up = pool(port, { maxConnections: 1 });
  const inFlight = send(up);
  await requestArrived;
  const closing = up.close();
  answer();
  await closing;
  expect((await inFlight).status).toBe(200);
  const after = await send(up);
  expect(after.error?.code).toBe('UND_ERR_CLOSED');
});

test('field values keep the bytes they arrived with (obs-text is latin1, not re-encoded as UTF-8)', async () => {
  const { port, rx } = await server((_req, socket) => socket.write('HTTP/1.1 204 No Content\r\n\r\n'));
  // The parser hands out field values as latin1 strings: 0xE9 is '\u00e9'.
  await send(pool(port), { headers: { host: 'svc', 'x-name': 'caf\u00e9' } });
  expect(Buffer.from(rx.connections[0], 'latin1').includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a]))).toBe(true);
});
