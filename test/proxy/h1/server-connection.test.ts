/**
 * The HTTP/1.1 server connection on real sockets: a raw client writes exact bytes and reads
 * exact bytes back, so framing, persistence, pipelining and refusals are checked on the wire.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { H1Connection, type H1Counters, type H1Request, type H1Response, type H1ServerOptions } from '../../../proxy/h1/server-connection';

type Handler = (req: H1Request, res: H1Response) => void;

interface Harness {
  port: number;
  connections: H1Connection[];
  /** Each connection's head counters, in accept order: they show what it has read. */
  counters: H1Counters[];
  clientErrors: string[];
  connects: { req: H1Request; socket: Socket; head: Buffer }[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(onRequest: Handler, opts: Partial<H1ServerOptions> = {}): Promise<Harness> {
  const h: Harness = { port: 0, connections: [], counters: [], clientErrors: [], connects: [] };
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const counters = { heads: 0, headBytesScanned: 0 };
    const conn = new H1Connection(socket, {
      maxHeaderBytes: 1024,
      maxHeaders: 16,
      headersTimeoutMs: 1_000,
      keepAliveTimeoutMs: 5_000,
      counters,
      onInternalError: (err) => {
        throw err;
      },
      onRequest,
      onConnect: (req, s, head) => {
        h.connects.push({ req, socket: s, head });
        s.end('HTTP/1.1 200 Connection Established\r\n\r\n');
      },
      onClientError: (code) => h.clientErrors.push(code),
      draining: () => false,
      onClose: () => undefined,
      ...opts,
    });
    h.connections.push(conn);
    h.counters.push(counters);
    conn.start(Buffer.alloc(0));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  h.port = (server.address() as { port: number }).port;
  return h;
}

/** Writes `bytes` and reads until the connection closes or `done(received)` says enough. */
function exchange(port: number, bytes: string | string[], done: (received: string) => boolean = () => false): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on('data', (c) => {
      text += c.toString('latin1');
      if (done(text)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    parts.forEach((part, i) => setTimeout(() => socket.write(part), i * 20));
  });
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const ok: Handler = (req, res) => {
  res.writeHead(200, 'OK', ['content-type', 'text/plain', 'content-length', String(req.url.length)]);
  res.end(req.url);
};

test('serves kept-alive requests in turn, with Date and the given framing', async () => {
  const { port } = await serve(ok);
  const { text } = await exchange(port, ['GET /one HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /second HTTP/1.1\r\nHost: a\r\n\r\n'], (t) => t.endsWith('/second'));
  expect(count(text, 'HTTP/1.1 200 OK\r\n')).toBe(2);
  expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain\r\ncontent-length: 4\r\ndate: [^\r]+ GMT\r\n\r\n\/one/);
  expect(text).not.toContain('connection: close');
});

test('pipelined requests are answered in order, the next one only after the previous response', async () => {
  const order: string[] = [];
  const { port } = await serve((req, res) => {
    order.push(`start ${req.url}`);
    // The first response is slow: the second request must wait for it.
    setTimeout(() => {
      order.push(`end ${req.url}`);
      ok(req, res);
    }, req.url === '/slow' ? 50 : 0);
  });
  const { text } = await exchange(port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('/fast'));
  expect(order).toEqual(['start /slow', 'end /slow', 'start /fast', 'end /fast']);
  expect(text.indexOf('/slow')).toBeLessThan(text.indexOf('/fast'));
});

test('a response of unknown length is chunked with its trailers; to an HTTP/1.0 client it ends with the connection', async () => {
  const handler: Handler = (_req, res) => {
    res.writeHead(200, 'OK', ['content-type', 'text/plain']);
    res.write(Buffer.from('abc'));
    res.addTrailers({ 'grpc-status': '0' });
    res.end();
  };
  const { port } = await serve(handler);
  const v11 = await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('\r\n\r\n') && t.includes('0\r\n'));
  expect(v11.text).toContain('transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n');
  const v10 = await exchange(port, 'GET / HTTP/1.0\r\n\r\n');
  expect(v10.closed).toBe(true);
  expect(v10.text).toMatch(/connection: close\r\n\r\nabc$/);
  expect(v10.text).not.toContain('transfer-encoding');
});

test('HTTP/1.0 keep-alive is honoured and announced', async () => {
  const { port } = await serve(ok);
  const { text } = await exchange(port, ['GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], (t) => t.endsWith('/b'));
  expect(count(text, 'connection: keep-alive\r\n')).toBe(2);
});

test('Connection: close is honoured: the response says so and the connection ends', async () => {
  const { port } = await serve(ok);
  const { text, closed } = await exchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: a\r\n\r\n');
  expect(closed).toBe(true);
  expect(text).toContain('connection: close\r\n');
  expect(text).not.toContain('/ignored');
});

test('request bodies stream to the handler, with Content-Length or chunked (and trailers)', async () => {
  const bodies: { text: string; trailers: Record<string, string> }[] = [];
  const { port } = await serve((req, res) => {
    let text = '';
    req.body!.on('data', (c: Buffer) => (text += c.toString()));
    req.body!.on('end', () => {
      bodies.push({ text, trailers: req.body!.trailers });
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
  });
  const { text } = await exchange(
    port,
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel', 'lo', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', '1\r\nd\r\n0\r\nx-t: 1\r\n\r\n'],
    (t) => count(t, 'HTTP/1.1 200') === 2,
  );
  expect(count(text, 'HTTP/1.1 200')).toBe(2);
  expect(bodies).toEqual([
    { text: 'hello', trailers: {} },
    { text: 'abcd', trailers: { 'x-t': '1' } },
  ]);
});

test('Expect: 100-continue is answered before the body is read', async () => {
  const { port } = await serve((req, res) => {
    req.body!.resume();
    req.body!.on('end', () => ok(req, res));
  });
  const { text } = await exchange(port, ['POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n', 'x'], (t) => t.endsWith('/e'));
  expect(text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true);
});

test('HEAD responses carry no body', async () => {
  const { port } = await serve((_req, res) => {
    res.writeHead(200, 'OK', ['content-length', '10']);
    res.end();
  });
  const { text } = await exchange(port, ['HEAD / HTTP/1.1\r\nHost: a\r\n\r\n', 'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n'], (t) => count(t, 'HTTP/1.1 200') === 2);
  expect(text).toMatch(/content-length: 10\r\ndate: [^\r]+\r\n\r\nHTTP\/1\.1 200 OK\r\ncontent-length: 10\r\ndate: [^\r]+\r\n\r\n$/);
});

test('malformed and oversized heads are refused by code and the connection closed', async () => {
  const h = await serve(ok);
  const bad = await exchange(h.port, 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
  expect(bad.closed).toBe(true);
  expect(bad.text).toMatch(/^HTTP\/1\.1 400 [^\r]*\r\nx-weft-error: WEFT_ERR_BAD_REQUEST\r\n/);
  const big = await exchange(h.port, `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(2000)}\r\n\r\n`);
  expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
  expect(h.clientErrors).toEqual(['WEFT_ERR_BAD_REQUEST', 'WEFT_ERR_REQUEST_HEADERS_TOO_LARGE']);
});

test('a head that does not complete in time gets 408; an idle kept-alive connection is closed silently', async () => {
  const h = await serve(ok);
  const slow = exchange(h.port, 'GET / HTTP/1.1\r\nHost: a\r\n');
  // Until the partial head has been read, there is no head deadline to pass.
  while (h.counters.length < 1 || h.counters[0].headBytesScanned === 0) await new Promise((r) => setTimeout(r, 5));
  // The owner's sweep, run as if the deadline had passed.
  h.connections[0].checkDeadline(Date.now() + 1_001);
  expect((await slow).text).toMatch(/^HTTP\/1\.1 408 /);
  let received = '';
  const idle = exchange(h.port, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\n', (t) => {
    received = t;
    return false;
  });
  // Idle once its response has gone out.
  while (!received.endsWith('/a')) await new Promise((r) => setTimeout(r, 5));
  h.connections[1].checkDeadline(Date.now() + 1_001);
  expect(h.connections[1].idle).toBe(true);
  h.connections[1].checkDeadline(Date.now() + 5_001);
  const result = await idle;
  expect(result.closed).toBe(true);
  expect(result.text).toMatch(/\/a$/);
});

test('CONNECT hands the socket over with the bytes that followed the head', async () => {
  const h = await serve(ok);
  const { text } = await exchange(h.port, 'CONNECT svc:80 HTTP/1.1\r\nHost: svc:80\r\n\r\nearly');
  expect(text).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
  expect(h.connects).toHaveLength(1);
  expect(h.connects[0].req.url).toBe('svc:80');
  expect(h.connects[0].head.toString()).toBe('early');
});

test('an upgrade request keeps the bytes after its head; a refused upgrade closes the connection', async () => {
  let head: string | undefined;
  const { port } = await serve((req, res) => {
    head = req.upgradeHead?.toString();
    ok(req, res);
  });
  const { text, closed } = await exchange(port, 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nframe');
  expect(head).toBe('frame');
  expect(closed).toBe(true);
  expect(text).toContain('connection: close\r\n');
});

test('a client that goes away mid-response closes the response', async () => {
  let closed = false;
  const { port } = await serve((_req, res) => {
    res.on('close', () => (closed = true));
    res.writeHead(200, 'OK', []);
    res.write('partial');
  });
  await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.includes('partial'));
  while (!closed) await new Promise((r) => setTimeout(r, 5));
  expect(closed).toBe(true);
});

test('a response finished while the request body still arrives ends the connection', async () => {
  const { port } = await serve((_req, res) => {
    res.writeHead(413, { 'content-length': 0 });
    res.end();
  });
  const { text, closed } = await exchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial');
  expect(closed).toBe(true);
  expect(text).toMatch(/^HTTP\/1\.1 413 /);
});

test('a request body still incomplete at the request deadline gets 408 with its own code', async () => {
  const h = await serve(() => undefined);
  const slow = exchange(h.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nx');
  // The head has been read: the request is in its body now.
  while (h.counters.length < 1 || h.counters[0].heads === 0) await new Promise((r) => setTimeout(r, 5));
  h.connections[0].checkDeadline(Date.now() + 60_000);
  expect(h.connections[0].idle).toBe(false); // not yet: the body has 300 s
  h.connections[0].checkDeadline(Date.now() + 301_000);
  expect((await slow).text).toMatch(/^HTTP\/1\.1 408 [^\r]*\r\nx-weft-error: WEFT_ERR_REQUEST_BODY_TIMEOUT\r\n/);
});
