/**
 * What a peer controls is bounded: head parsing resumes instead of starting over, each listening
 * port has a connection cap, `100 Continue` is only sent to a request that is going ahead, and
 * destinations outside the mesh get a response deadline and an idle limit. The sidecar runs as
 * the image's bundle in a child process; every probe goes through real sockets.
 */
import { createServer as createNetServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, staticCluster, type Upstream } from '../harness';
import { rawExchange } from './raw-http';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

let app: Upstream;
let sidecar: SidecarProcess;
/** A TCP server that accepts and never says a word. */
let silent: NetServer;
const silentSockets = new Set<Socket>();

const MAX_CONNECTIONS = 40;
const BODY_LIMIT = 1_000;

beforeAll(async () => {
  app = await startUpstream('app');
  silent = createNetServer((s) => {
    silentSockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => silentSockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  sidecar = await startSidecarProcess(
    nodeBody({
      egressFilter: 'ALLOW_ALL',
      services: [{ name: 'app.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('app/r', { 'app:8080': 1 }, { path: { prefix: '/api' } })] }] }],
      clusters: [staticCluster('app:8080', [app.port])],
    }),
    [
      '--max-connections', String(MAX_CONNECTIONS),
      '--max-request-body-bytes', String(BODY_LIMIT),
      '--passthrough-response-timeout-ms', '500',
      '--passthrough-idle-timeout-ms', '500',
    ],
  );
}, 30_000);

afterAll(async () => {
  await sidecar?.stop();
  await app?.close();
  for (const s of silentSockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await agent.close();
});

interface ListenerStats {
  open: number;
  accepted: number;
  refused: number;
  heads: number;
  headBytesScanned: number;
}

async function listenerStats(name: string): Promise<ListenerStats> {
  const res = await get(sidecar.ports.admin, '/stats', { host: '127.0.0.1' });
  return (res.json() as unknown as { connections: Record<string, ListenerStats> }).connections[name];
}

test('a 60 KB head dripped in 10-20 byte pieces is scanned about once, not once per piece', async () => {
  const lines: string[] = [];
  for (let k = 0; lines.join('').length < 58_000; k++) lines.push(`X-Pad-${k}: ${'v'.repeat(1_000)}\r\n`);
  // No route matches /drip: the sidecar answers itself (the app, node:http, refuses heads over 16 KB).
  const head = `GET /drip HTTP/1.1\r\nHost: app.demo.local:8080\r\n${lines.join('')}Connection: close\r\n\r\n`;
  const pieces: string[] = [];
  for (let at = 0; at < head.length; ) {
    const size = 10 + (at % 11);
    pieces.push(head.slice(at, at + size));
    at += size;
  }
  const before = await listenerStats('egress');
  const reply = await rawExchange(sidecar.ports.egress, pieces, { gapMs: 0 });
  expect(reply.status).toBe(404);
  expect(reply.headers['x-weft-error']).toBe('WEFT_ERR_NO_ROUTE');
  const after = await listenerStats('egress');
  // The /stats request itself goes to the admin port, not egress: only the dripped head counts here.
  expect(after.heads - before.heads).toBe(1);
  // Resumed parsing examines each byte about twice; starting over per piece would be ~3,000x.
  expect(after.headBytesScanned - before.headBytesScanned).toBeLessThan(3 * head.length);
  expect(pieces.length).toBeGreaterThan(3_000);
}, 60_000);

test('a listening port holds at most --max-connections; the rest are closed at accept and counted, and the gauge tells', async () => {
  const before = await listenerStats('egress');
  const sockets: Socket[] = [];
  const closed: boolean[] = [];
  for (let i = 0; i < MAX_CONNECTIONS + 10; i++) {
    const s = netConnect({ host: '127.0.0.1', port: sidecar.ports.egress });
    s.on('error', () => undefined);
    closed.push(false);
    s.once('close', () => (closed[i] = true));
    sockets.push(s);
    await new Promise((r) => s.once('connect', r));
  }
  await eventually(() => closed.filter(Boolean).length >= 10, 'ten connections past the cap to be closed');
  const during = await listenerStats('egress');
  expect(during.open).toBe(MAX_CONNECTIONS);
  expect(during.refused - before.refused).toBe(10);
  // The open ones still work.
  const alive = sockets.find((_, i) => !closed[i])!;
  const answer = new Promise<string>((resolve) => {
    let text = '';
    alive.on('data', (d) => {
      text += d;
      if (text.includes('\r\n\r\n')) resolve(text);
    });
  });
  alive.write('GET /api/ok HTTP/1.1\r\nHost: app.demo.local:8080\r\n\r\n');
  expect((await answer).startsWith('HTTP/1.1 200')).toBe(true);
  for (const s of sockets) s.destroy();
  await eventually(async () => (await listenerStats('egress')).open === 0, 'the gauge to drop to zero');
  const res = await get(sidecar.ports.egress, '/api/after', { host: 'app.demo.local:8080' });
  expect(res.status).toBe(200);
});

describe('Expect: 100-continue', () => {
  test('a body over the limit is answered 413 without a 100 first', async () => {
    const reply = await rawExchange(sidecar.ports.egress, `POST /api/up HTTP/1.1\r\nHost: app.demo.local:8080\r\nContent-Length: ${BODY_LIMIT * 5}\r\nExpect: 100-continue\r\n\r\n`, {
      until: (t) => t.includes('\r\n\r\n'),
    });
    expect(reply.text.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(reply.headers['x-weft-error']).toBe('WEFT_ERR_REQUEST_BODY_TOO_LARGE');
    expect(reply.text).not.toContain('100 Continue');
  });

  test('a request refused before its body is wanted (no route) gets no 100 either', async () => {
    const reply = await rawExchange(sidecar.ports.egress, 'POST /elsewhere HTTP/1.1\r\nHost: app.demo.local:8080\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n', {
      until: (t) => t.includes('\r\n\r\n'),
    });
    expect(reply.status).toBe(404);
    expect(reply.text).not.toContain('100 Continue');
  });

  test('a request that goes ahead gets 100, then its answer once the body arrived', async () => {
    const socket = netConnect({ host: '127.0.0.1', port: sidecar.ports.egress });
    let text = '';
    socket.on('data', (d) => (text += d));
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /api/up HTTP/1.1\r\nHost: app.demo.local:8080\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    await eventually(() => text.includes('\r\n\r\n'), 'the interim response');
    expect(text).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    socket.write('hello');
    await eventually(() => text.includes('"body":"hello"'), 'the final response');
    expect(text).toContain('HTTP/1.1 200 OK');
    socket.destroy();
  });
});

describe('destinations outside the mesh (ALLOW_ALL passthrough)', () => {
  test('one that never answers gets 504 WEFT_ERR_UPSTREAM_TIMEOUT after the response timeout', async () => {
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const reply = await rawExchange(sidecar.ports.egress, `GET http://127.0.0.1:${port}/slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, { quietMs: 10_000, until: (t) => t.includes('\r\n\r\n') });
    expect(reply.status).toBe(504);
    expect(reply.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TIMEOUT');
    // Generous: only that it was the 500 ms deadline and not the client giving up after 10 s.
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  test('a quiet CONNECT tunnel is closed after the idle limit', async () => {
    const port = (silent.address() as { port: number }).port;
    const reply = await rawExchange(sidecar.ports.egress, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`, { quietMs: 10_000 });
    expect(reply.status).toBe(200);
    expect(reply.closed).toBe(true);
  });
});
