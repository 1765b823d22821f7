/**
 * Adversarial review of the HTTP/1.1 upstream pool (proxy/cluster/h1-upstream.ts) against
 * scripted raw-socket servers on 127.0.0.1. The first group was found by the review of the new engine (now fixed);
 * the others are attacks already handled (regression tests).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { H1Upstream } from '../../../proxy/cluster/h1-upstream';

interface Outcome {
  status?: number;
  body: string;
  error?: Error & { code?: string };
}

const servers: Server[] = [];
const pools: H1Upstream[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(
    servers.splice(0).map((s) => {
      for (const socket of (s as Server & { live?: Set<Socket> }).live ?? []) socket.destroy();
      return new Promise((r) => s.close(r));
    }),
  );
});

/** A server that calls `answer` for each request head it reads (requests here have no body). */
async function scripted(answer: (request: string, socket: Socket, connection: number) => void): Promise<{ port: number; requests: string[]; connections: () => number }> {
  const requests: string[] = [];
  const live = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const n = connections++;
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end >= 0) {
        const request = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        requests.push(request);
        answer(request, socket, n);
        end = buf.indexOf('\r\n\r\n');
      }
    });
  });
  Object.assign(server, { live });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, requests, connections: () => connections };
}

function pool(port: number): H1Upstream {
  const p = new H1Upstream({ host: '127.0.0.1', port, tls: undefined, maxConnections: 4, connectTimeoutMs: 2_000, idleTimeoutMs: 4_000, maxRequestsPerConnection: 0 });
  pools.push(p);
  return p;
}

function send(upstream: H1Upstream, options: Partial<Dispatcher.DispatchOptions> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const out: Outcome = { body: '' };
    upstream.dispatch({ path: '/', method: 'GET', headers: { host: 'svc' }, ...options } as Dispatcher.DispatchOptions, {
      onConnect: () => undefined,
      onHeaders: (status) => {
        out.status = status;
        return true;
      },
      onData: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return true;
      },
      onComplete: () => {
        out.body = Buffer.concat(chunks).toString('latin1');
        resolve(out);
      },
      onError: (err) => {
        out.error = err;
        resolve(out);
      },
    });
  });
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('found in review, fixed', () => {
  /*
   * Found in review (duplicate side effects): Connection.fail() re-sends any request WITHOUT A BODY that was
   * written on a reused connection which then closed before a response byte. It checks the body,
   * not the method, so a body-less POST/DELETE/PATCH that the upstream received and acted on
   * (then crashed or closed) is executed twice. RFC 9110 §9.2.2: "A proxy MUST NOT automatically
   * retry non-idempotent requests." Expected: the POST reaches the upstream once and the caller
   * gets the error (only idempotent methods — GET, HEAD, OPTIONS, TRACE, PUT, DELETE — may be
   * retried, and only when the request could not have been processed).
   */
  test('a body-less POST is not re-sent when the reused connection closes without a response', async () => {
    const up = await scripted((request, socket) => {
      if (request.startsWith('POST')) socket.destroy(); // processed, then the upstream died
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const p = pool(up.port);
    expect((await send(p)).status).toBe(200);
    const post = await send(p, { method: 'POST', path: '/transfer?amount=100', headers: { host: 'svc', 'content-length': '0' } });
    expect(post.error).toBeDefined();
    expect(up.requests.filter((r) => r.startsWith('POST')).length).toBe(1);
  });
});

describe('attacks already handled (regression)', () => {
  test('bytes after a 204 are not read as the next response: the connection is dropped', async () => {
    const up = await scripted((request, socket) => {
      if (request.startsWith('GET /first')) socket.write('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nreal');
    });
    const p = pool(up.port);
    expect((await send(p, { path: '/first' })).status).toBe(204);
    const second = await send(p, { path: '/second' });
    expect(second.body).toBe('real');
    expect(up.connections()).toBe(2);
  });

  test('a body longer than Content-Length in the same read does not poison the next request', async () => {
    const up = await scripted((request, socket) => {
      if (request.startsWith('GET /first')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nreal');
    });
    const p = pool(up.port);
    expect((await send(p, { path: '/first' })).body).toBe('ok');
    expect((await send(p, { path: '/second' })).body).toBe('real');
  });

  test('bytes arriving on an idle connection make it unusable rather than answer the next request', async () => {
    let forge: () => void = () => undefined;
    const up = await scripted((request, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      if (request.startsWith('GET /first')) forge = () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
    });
    const p = pool(up.port);
    await send(p, { path: '/first' });
    expect(p.size).toBe(1);
    forge(); // the connection is idle now: nobody asked for these bytes
    while (p.size > 0) await tick(5); // the pool drops the connection they arrived on
    expect((await send(p, { path: '/second' })).body).toBe('ok');
    expect(up.connections()).toBe(2);
  });

  const invalid: Record<string, string> = {
    'Content-Length with Transfer-Encoding': 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    'conflicting Content-Length': 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd',
    'Transfer-Encoding other than chunked': 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nabc',
    'bare LF in the head': 'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
    'obs-fold': 'HTTP/1.1 200 OK\r\nx-a: 1\r\n 2\r\ncontent-length: 0\r\n\r\n',
    'bad chunk size': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'head over 64 KiB': `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
  };
  test.each(Object.entries(invalid))('%s: the request fails with UND_ERR_INVALID_RESPONSE', async (_name, response) => {
    const up = await scripted((_request, socket) => socket.write(response));
    const out = await send(pool(up.port));
    expect(out.error?.code).toBe('UND_ERR_INVALID_RESPONSE');
  });

  test('interim 1xx responses are skipped; the final response is framed after them', async () => {
    const up = await scripted((_request, socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const out = await send(pool(up.port));
    expect(out).toMatchObject({ status: 200, body: 'ok' });
  });

  test('a HEAD response with Content-Length has no body and the connection stays in step', async () => {
    const up = await scripted((request, socket) => {
      if (request.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
    });
    const p = pool(up.port);
    expect((await send(p, { method: 'HEAD' })).body).toBe('');
    expect((await send(p)).body).toBe('next');
    expect(up.connections()).toBe(1);
  });
});
