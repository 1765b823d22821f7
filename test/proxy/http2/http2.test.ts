/**
 * HTTP/2 end to end through two sidecars (app -> egress -> inbound -> app), with real node:http2
 * clients and servers: cleartext prior knowledge and TLS+ALPN with mutual TLS between the
 * sidecars, and both mixes of HTTP/1.1 and HTTP/2 on the two sides.
 */
import { connect, createServer, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { request } from 'undici';
import { agent, httpRoute, nodeBody, startUpstream, startWith, staticCluster, TIMEOUT, type Running, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';

const ORDERS_ID = 'spiffe://weft.test/ns/demo/sa/orders';
const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';

interface H2App {
  server: Http2Server;
  port: number;
  seen: IncomingHttpHeaders[];
}

/** An HTTP/2 (h2c) app: echoes the request as JSON, with a response trailer. */
async function startH2App(): Promise<H2App> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer();
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    const chunks: Buffer[] = [];
    let requestTrailers: IncomingHttpHeaders | undefined;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t: IncomingHttpHeaders) => (requestTrailers = t));
    stream.on('end', () => {
      stream.respond({ ':status': 201, 'content-type': 'application/json', 'x-app': 'h2' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': String(Buffer.concat(chunks).length) }));
      const echo = { path: headers[':path'], method: headers[':method'], authority: headers[':authority'], body: Buffer.concat(chunks).toString() };
      stream.end(JSON.stringify(requestTrailers ? { ...echo, requestTrailers } : echo));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, seen };
}

interface H2Result {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
  body: string;
}

function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body?: string, requestTrailers?: Record<string, string>): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined, waitForTrailers: requestTrailers !== undefined });
    if (requestTrailers !== undefined) stream.on('wantTrailers', () => stream.sendTrailers(requestTrailers));
    let response: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    let text = '';
    stream.on('response', (h) => (response = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve({ headers: response, trailers, body: text }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

let pki: TestPki;
let app: H2App;
let web: Upstream;
let orders: Running;
let ordersTls: Running;
let client: Running;
let session: ClientHttp2Session;

beforeAll(async () => {
  pki = new TestPki();
  const ca = pki.ca('mesh-ca');
  const ordersDir = pki.leaf('orders', ORDERS_ID, ca);
  const clientDir = pki.leaf('client', CLIENT_ID, ca);
  [app, web] = await Promise.all([startH2App(), startUpstream('web-h1')]);
  const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [CLIENT_ID] } };
  // Two app ports behind one inbound port: 8080 speaks HTTP/2, 9090 HTTP/1.1.
  const inbound = (tls?: typeof strict) => [
    { port: 8080, protocol: 'http2' as const, timeout: TIMEOUT, ...(tls ? { tls } : {}) },
    { port: 9090, protocol: 'http' as const, timeout: TIMEOUT, ...(tls ? { tls } : {}) },
  ];
  [orders, ordersTls] = await Promise.all([
    startWith(nodeBody({ name: 'orders', inbound: inbound() }), { appPorts: [String(app.port), String(web.port)] }),
    startWith(nodeBody({ name: 'orders', inbound: inbound(strict) }), { appPorts: [String(app.port), String(web.port)], certSource: `file:${ordersDir}` }),
  ]);
  const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [ORDERS_ID] };
  const svc = (name: string, port: number, protocol: 'http' | 'http2', cluster: string) => ({ name, listeners: [{ port, protocol, routes: [httpRoute(`${name}/r`, { [cluster]: 1 })] }] });
  client = await startWith(
    nodeBody({
      services: [
        svc('orders.demo.local', 8080, 'http2', 'orders:8080'),
        svc('orders-tls.demo.local', 8080, 'http2', 'orders-tls:8080'),
        svc('web.demo.local', 9090, 'http', 'orders:9090'),
      ],
      clusters: [
        // Plain mode: no mTLS, so the inbound side picks the app port by... the first listener (8080).
        staticCluster('orders:8080', [orders.handle.ports.inbound!], { protocol: 'http2' }),
        staticCluster('orders-tls:8080', [ordersTls.handle.ports.inbound!], { protocol: 'http2', tls: mtls }),
        // HTTP/1.1 to the 9090 app port, over mTLS so the target port header is believed.
        staticCluster('orders:9090', [ordersTls.handle.ports.inbound!], { port: 9090, protocol: 'http', tls: mtls }),
      ],
    }),
    { certSource: `file:${clientDir}` },
  );
  session = connect(`http://127.0.0.1:${client.handle.ports.egress!}`);
}, 30_000);

afterAll(async () => {
  session?.close();
  await Promise.all([client?.close(), orders?.close(), ordersTls?.close()]);
  await Promise.all([new Promise((r) => app.server.close(r)), web.close(), agent.close()]);
  pki.remove();
});

test('h2c prior knowledge through two sidecars: headers, body and trailers intact', async () => {
  const res = await h2Request(session, { ':method': 'POST', ':path': '/orders?x=1', ':authority': 'orders.demo.local:8080', 'x-custom': 'kept', 'content-type': 'text/plain' }, 'hello h2');
  expect(res.headers[':status']).toBe(201);
  expect(res.headers['x-app']).toBe('h2');
  expect(JSON.parse(res.body)).toEqual({ path: '/orders?x=1', method: 'POST', authority: 'orders.demo.local:8080', body: 'hello h2' });
  expect(res.trailers).toMatchObject({ 'x-checksum': '8' });
  const seen = app.seen[app.seen.length - 1];
  expect(seen['x-custom']).toBe('kept');
  // Not mutually authenticated: the inbound side keeps only its immediate peer.
  expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  expect(seen['x-weft-target-port']).toBeUndefined();
});

test('HTTP/2 over TLS with ALPN h2 and mutual TLS between the sidecars', async () => {
  const results = await Promise.all([1, 2, 3].map((i) => h2Request(session, { ':method': 'POST', ':path': `/tls/${i}`, ':authority': 'orders-tls.demo.local' }, `body-${i}`)));
  results.forEach((res, i) => {
    expect(res.headers[':status']).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ path: `/tls/${i + 1}`, body: `body-${i + 1}` });
    expect(res.trailers).toMatchObject({ 'x-checksum': '6' });
  });
  // The inbound side saw a mutually authenticated peer on the HTTP/2 session: it keeps the chain.
  expect(app.seen[app.seen.length - 1]['x-forwarded-for']).toBe('127.0.0.1, 127.0.0.1');
});

test('HTTP/1.1 client -> HTTP/2 upstream: trailers arrive as chunked trailers', async () => {
  const res = await request(`http://127.0.0.1:${client.handle.ports.egress!}/from-h1`, { method: 'POST', headers: { host: 'orders.demo.local', connection: 'keep-alive' }, body: 'abc', dispatcher: agent });
  const body = await res.body.json();
  expect(res.statusCode).toBe(201);
  expect(body).toMatchObject({ path: '/from-h1', method: 'POST', body: 'abc' });
  expect(res.trailers).toMatchObject({ 'x-checksum': '3' });
});

test('request trailers cross two sidecars to an HTTP/2 app, from an HTTP/2 client and from a chunked HTTP/1.1 client', async () => {
  const fromH2 = await h2Request(session, { ':method': 'POST', ':path': '/upload', ':authority': 'orders.demo.local:8080' }, 'abcde', { 'x-sum': '5', 'x-weft-error-code': 'forged' });
  expect(JSON.parse(fromH2.body)).toMatchObject({ body: 'abcde', requestTrailers: { 'x-sum': '5' } });
  expect((JSON.parse(fromH2.body) as { requestTrailers: Record<string, string> }).requestTrailers['x-weft-error-code']).toBeUndefined();

  const socket = netConnect(client.handle.ports.egress!, '127.0.0.1');
  let raw = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (raw += d));
  socket.write('POST /upload-h1 HTTP/1.1\r\nhost: orders.demo.local\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\nconnection: close\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 3\r\n\r\n');
  await once(socket, 'close');
  const json = raw.slice(raw.indexOf('{'), raw.lastIndexOf('}') + 1);
  expect(raw.startsWith('HTTP/1.1 201')).toBe(true);
  expect(JSON.parse(json)).toMatchObject({ path: '/upload-h1', body: 'abc', requestTrailers: { 'x-sum': '3' } });
});

test('a request body without trailers still ends cleanly on HTTP/2 (no empty trailers reach the app)', async () => {
  const res = await h2Request(session, { ':method': 'POST', ':path': '/plain-body', ':authority': 'orders.demo.local:8080' }, 'xyz');
  expect(res.headers[':status']).toBe(201);
  expect(JSON.parse(res.body)).toEqual({ path: '/plain-body', method: 'POST', authority: 'orders.demo.local:8080', body: 'xyz' });
});

test('HTTP/2 client -> HTTP/1.1 upstream: connection-specific response headers are dropped', async () => {
  const res = await h2Request(session, { ':method': 'GET', ':path': '/plain', ':authority': 'web.demo.local:9090' });
  expect(res.headers[':status']).toBe(200);
  expect(res.headers['x-upstream']).toBe('web-h1');
  expect(res.headers['connection']).toBeUndefined();
  expect(res.headers['x-upstream-private']).toBeUndefined();
  const seen = JSON.parse(res.body) as { url: string; headers: IncomingHttpHeaders };
  expect(seen.url).toBe('/plain');
  expect(seen.headers.host).toBe('web.demo.local:9090');
  // A HEADERS frame that ended the stream means no body: none is invented for HTTP/1.1.
  expect(seen.headers['transfer-encoding']).toBeUndefined();
  expect(seen.headers['content-length']).toBeUndefined();
  expect(Object.keys(seen.headers).filter((k) => k.startsWith(':'))).toEqual([]);
  // A request body without content-length (HTTP/2 framing) becomes a chunked HTTP/1.1 body.
  const posted = await h2Request(session, { ':method': 'POST', ':path': '/post', ':authority': 'web.demo.local:9090' }, 'x'.repeat(100_000));
  expect(posted.headers[':status']).toBe(200);
  expect((JSON.parse(posted.body) as { body: string }).body).toHaveLength(100_000);
});

test('HTTP/2 over TLS (ALPN) straight to the inbound listener is served as HTTP/2', async () => {
  const direct = connect(`https://127.0.0.1:${ordersTls.handle.ports.inbound!}`, {
    ca: pki.read(`${pki.root}/mesh-ca`, 'ca.pem'),
    key: pki.read(`${pki.root}/client`, 'key.pem'),
    cert: pki.read(`${pki.root}/client`, 'cert.pem'),
    checkServerIdentity: () => undefined,
  });
  try {
    const res = await h2Request(direct, { ':method': 'GET', ':path': '/direct', ':authority': 'orders' });
    expect(direct.alpnProtocol).toBe('h2');
    expect(res.headers[':status']).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ path: '/direct' });
  } finally {
    direct.close();
  }
});

test('too many request headers refuse the stream (ENHANCE_YOUR_CALM), not the session', async () => {
  const many: Record<string, string> = { ':method': 'GET', ':path': '/', ':authority': 'orders.demo.local' };
  for (let i = 0; i < 101; i++) many[`x-h${i}`] = 'v';
  const err = await h2Request(session, many).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code,
  );
  expect(err).toBe('ERR_HTTP2_STREAM_ERROR');
  const again = await h2Request(session, { ':method': 'GET', ':path': '/after', ':authority': 'orders.demo.local' });
  expect(again.headers[':status']).toBe(201);
});

test('an HTTP/2 request to a name outside the mesh gets the sidecar error, on the same session', async () => {
  const res = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'elsewhere.example' });
  expect(res.headers[':status']).toBe(404);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_EGRESS_DENIED');
  const again = await h2Request(session, { ':method': 'GET', ':path': '/again', ':authority': 'orders.demo.local' });
  expect(again.headers[':status']).toBe(201);
});
