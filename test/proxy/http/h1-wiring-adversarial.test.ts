/**
 * Adversarial review of how the HTTP/1.1 engine is wired into the sidecar (listener, Exchange,
 * headers): a sidecar started in-process, a scripted raw-socket app on 127.0.0.1, and raw or
 * HTTP/2 clients. The first group was found by the review of the new engine (now fixed); the others are regression tests.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { nodeBody, startWith, type Running } from '../harness';

/** A raw app: answers each request with `respond(requestText)`; records requests (head + body text). */
interface RawApp {
  port: number;
  seen: string[];
  respond: (request: string) => string;
  server: Server;
}

async function rawApp(): Promise<RawApp> {
  const app: RawApp = { port: 0, seen: [], respond: () => 'HTTP/1.1 204 No Content\r\n\r\n', server: undefined as unknown as Server };
  const live = new Set<Socket>();
  app.server = createServer((socket) => {
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      // Requests in these tests end with a blank line (no body) or with a chunked last-chunk section.
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        let end = head + 4;
        if (/transfer-encoding: chunked/i.test(buf.slice(0, head))) {
          const last = buf.indexOf('\r\n0\r\n', head);
          if (last < 0) return;
          const fin = buf.indexOf('\r\n\r\n', last + 2);
          if (fin < 0) return;
          end = fin + 4;
        }
        const request = buf.slice(0, end);
        buf = buf.slice(end);
        app.seen.push(request);
        socket.write(app.respond(request));
      }
    });
  });
  Object.assign(app.server, { live });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as { port: number }).port;
  return app;
}

/** Writes raw bytes, reads until `done` or the close. */
function raw(port: number, bytes: string, done: (t: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const finish = (): void => {
      clearTimeout(guard);
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (done(text)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    // Not a timing assertion: a bound so a stuck exchange fails on its content.
    const guard = setTimeout(finish, 5_000);
    socket.write(Buffer.from(bytes, 'latin1'));
  });
}

let app: RawApp;
let sidecar: Running;
let port: number;
beforeAll(async () => {
  app = await rawApp();
  sidecar = await startWith(nodeBody({}), { appPorts: [String(app.port)] });
  port = sidecar.handle.ports.inbound!;
});
afterAll(async () => {
  await sidecar.close();
  for (const s of (app.server as Server & { live: Set<Socket> }).live) s.destroy();
  await new Promise((r) => app.server.close(r));
});

describe('found in review, fixed', () => {
  /*
   * Found in review (hop-by-hop / control-header hygiene): request trailers decoded from an untrusted peer are
   * forwarded to the app verbatim (H1Connection.feedBody copies them to body.trailers, and
   * H1Upstream.sendBody -> lastChunk(flatTrailers(body)) re-sends them). Header hygiene
   * (proxy/message/headers.ts) never sees them, so `x-weft-*` control fields — which inbound.ts
   * promises are "removed before the app sees the request" — and framing/hop-by-hop fields
   * (transfer-encoding, content-length, connection, host) reach the app in the trailer section.
   * RFC 9110 §6.5.1/§6.5.2: framing, routing and connection fields are not allowed in trailers,
   * and a proxy must not forward what it cannot vouch for. Expected: trailers pass the same filter
   * as headers (drop hop-by-hop, Connection-listed, x-weft-*, and fields not allowed in trailers).
   */
  test('request trailers from a peer are filtered like headers before reaching the app', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    const before = app.seen.length;
    await raw(
      port,
      'POST /t HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx-weft-target-port: 9\r\ntransfer-encoding: chunked\r\ncontent-length: 99\r\nx-fine: 1\r\n\r\n',
      (t) => t.endsWith('ok'),
    );
    const forwarded = app.seen.slice(before).join('');
    expect(forwarded).toContain('x-fine: 1');
    const trailerSection = forwarded.slice(forwarded.indexOf('\r\n0\r\n'));
    expect(trailerSection).not.toMatch(/x-weft-|transfer-encoding|content-length/i);
  });

  /*
   * Found in review (response hygiene): the same gap on the way back. Exchange.onComplete hands the app's
   * chunked trailers to res.addTrailers without the filter that downstreamResponseHeaders applies
   * to headers, so an app (or an outside server on egress passthrough) can send the sidecar's own
   * control fields (`x-weft-error`, with stripResponseControl true) and hop-by-hop fields to the
   * client in trailers. Expected: trailers are filtered like response headers.
   */
  test('response trailers from the app are filtered like response headers', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-weft-error: WEFT_ERR_FORGED\r\nconnection: close\r\nx-fine: 1\r\n\r\n';
    const text = await raw(port, 'GET /rt HTTP/1.1\r\nHost: app\r\n\r\n', (t) => /\r\n0\r\n[^]*\r\n\r\n$/.test(t));
    expect(text).toContain('x-fine: 1');
    expect(text).not.toMatch(/x-weft-error: WEFT_ERR_FORGED|\r\nconnection: close\r\nx-fine/);
  });

  /*
   * Found in review (framing hygiene): the app's response head is relayed from rawHeaders, so two equal
   * "Content-Length: 2" lines (or "Content-Length: 2, 2"), which the parser accepted as one value,
   * reach the client as written. RFC 9112 §6.3 (5): a recipient either rejects such a message or
   * processes it with the single value; a proxy that forwards the duplicate hands the next parser
   * a message that strict clients (llhttp: "Duplicate Content-Length") reject, and that lenient
   * ones may read differently. Expected: exactly one content-length line downstream, with the
   * value the sidecar framed the body by.
   */
  test('a duplicated Content-Length from the app is sent to the client once', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2, 2\r\n\r\nok';
    const text = await raw(port, 'GET /cl HTTP/1.1\r\nHost: app\r\n\r\n', (t) => t.endsWith('ok'));
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text.match(/^content-length:.*$/gim)).toEqual(['content-length: 2']);
  });

});

describe('attacks already handled (regression)', () => {
  /*
   * Regression (was a bug at commit ccd644b, fixed in the working tree during this review): the
   * parser keeps field values as latin1 strings (obs-text, RFC 9110 §5.5), and H1Upstream wrote the
   * request head as UTF-8, turning each byte 0x80-0xFF into two (0xE9 -> 0xC3 0xA9), so the app saw
   * a different value than the client sent. Heads and trailers must be written as latin1.
   */
  test('obs-text bytes in a request header reach the app unchanged', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    const before = app.seen.length;
    await raw(port, 'GET /obs HTTP/1.1\r\nHost: app\r\nX-Obs: caf\xe9\r\n\r\n', (t) => t.endsWith('ok'));
    const forwarded = app.seen.slice(before).join('');
    expect(forwarded).toContain('x-obs: caf\xe9\r\n');
  });
  test('hop-by-hop and Connection-listed fields are removed both ways; x-weft-* from a plaintext peer is dropped', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\r\nconnection: x-secret\r\nx-secret: 1\r\nkeep-alive: timeout=5\r\nx-weft-error: forged\r\ncontent-length: 2\r\n\r\nok';
    const before = app.seen.length;
    const text = await raw(port, 'GET /h HTTP/1.1\r\nHost: app\r\nConnection: x-private\r\nX-Private: 1\r\nTE: trailers\r\nX-Weft-Target-Port: 1\r\nProxy-Connection: keep-alive\r\n\r\n', (t) => t.endsWith('ok'));
    const forwarded = app.seen.slice(before).join('');
    expect(forwarded).not.toMatch(/x-private|\r\nte:|x-weft-|proxy-connection/i);
    expect(text).not.toMatch(/x-secret|keep-alive: timeout|x-weft-error: forged/i);
  });

  test('a response split attempt in the app\'s reason phrase is refused (502), not relayed', async () => {
    app.respond = () => 'HTTP/1.1 200 OK\rSet-Cookie: a=1\r\ncontent-length: 2\r\n\r\nok';
    const text = await raw(port, 'GET /r HTTP/1.1\r\nHost: app\r\n\r\n', (t) => t.includes('\r\n\r\n') && !t.startsWith('HTTP/1.1 200'));
    expect(text).toMatch(/^HTTP\/1\.1 502 /);
    expect(text).not.toContain('Set-Cookie');
  });

  test('CL.TE smuggling through the sidecar: refused with 400 and nothing reaches the app', async () => {
    const before = app.seen.length;
    const text = await raw(port, 'POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n', () => false);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(app.seen.length).toBe(before);
  });
});
