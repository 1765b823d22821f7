/**
 * Adversarial review, HTTP/2 client -> sidecar -> HTTP/1.1 app: a scripted raw-socket app on
 * 127.0.0.1 answers with exact bytes. Kept in its own file because on the code as reviewed the
 * defect is an exception that escapes a socket handler, which jest reports against the whole file
 * ("Test suite failed to run"); in the sidecar process (no 'uncaughtException' handler in proxy/)
 * it is a crash.
 */
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { nodeBody, startWith, type Running } from '../harness';

let response = '';
const live = new Set<Socket>();
const app: Server = createServer((socket) => {
  live.add(socket);
  socket.once('close', () => live.delete(socket));
  socket.on('error', () => undefined);
  let buf = '';
  socket.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    // Requests here are GETs: each ends at its blank line.
    for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
      buf = buf.slice(end + 4);
      socket.write(response);
    }
  });
});

let sidecar: Running;
let port: number;
beforeAll(async () => {
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  sidecar = await startWith(nodeBody({}), { appPorts: [String((app.address() as { port: number }).port)] });
  port = sidecar.handle.ports.inbound!;
});
afterAll(async () => {
  await sidecar.close();
  for (const s of live) s.destroy();
  await new Promise((r) => app.close(r));
});

/** One HTTP/2 GET; `status` is -1 when no answer came within a generous bound (not a timing assertion). */
function h2get(session: ClientHttp2Session, path: string): Promise<{ status: number }> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path, ':method': 'GET' });
    let status = 0;
    const guard = setTimeout(() => {
      stream.destroy();
      resolve({ status: -1 });
    }, 3_000);
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      clearTimeout(guard);
      resolve({ status });
    });
    stream.resume();
  });
}

/*
 * Found in review (crash from peer input, HIGH): an HTTP/1.1 app's response that repeats a field HTTP/2 allows
 * once (content-type, content-length, location, etag, ...) relayed to an HTTP/2 client.
 * Responder.onHeaders (proxy/exchange/responder.ts) folds the repeats into an array (toObject) and calls
 * Http2ServerResponse.writeHead, which throws "Header field "content-type" must only have a single
 * value" synchronously. Nothing catches it: the stack is H1Upstream Connection.onBytes -> onHead ->
 * Exchange.onHeaders inside the upstream socket's 'data' listener, so the exception is uncaught
 * and ends the sidecar process. Two Content-Type lines from any app (or from any outside server on
 * egress passthrough) kill the node's proxy. RFC 9110 §5.3 / RFC 9113 §8.2.3: the proxy must turn
 * what it received into a valid HTTP/2 message (keep one value, or answer 502).
 * Expected: the stream gets a response (200 with one value, or 502) and the next one is served.
 */
test('an app response repeating a single-value field, relayed to an HTTP/2 client, is answered instead of crashing', async () => {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    response = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok';
    const first = await h2get(session, '/dup');
    response = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    const second = await h2get(session, '/after');
    expect(first.status).toBeGreaterThanOrEqual(200);
    expect(second.status).toBe(200);
  } finally {
    session.destroy();
  }
});

test('regression: a well-formed HTTP/1.1 app response reaches the HTTP/2 client', async () => {
  const session = h2connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    response = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\ncontent-length: 2\r\n\r\nok';
    expect((await h2get(session, '/fine')).status).toBe(200);
  } finally {
    session.destroy();
  }
});
