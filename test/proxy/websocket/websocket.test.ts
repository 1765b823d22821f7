/**
 * WebSocket (HTTP/1.1 Upgrade) through two sidecars with the `ws` package on both ends: the 101
 * is relayed, frames flow both ways, a clean close reaches both sides, and a refused upgrade
 * comes back as an ordinary response.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { eventually, httpRoute, nodeBody, startWith, staticCluster, type Running } from '../harness';

let http: Server;
let wss: WebSocketServer;
let appPort: number;
const upgrades: IncomingHttpHeaders[] = [];
const serverCloses: { code: number; reason: string }[] = [];
let chat: Running;
let client: Running;

beforeAll(async () => {
  http = createServer((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({
    server: http,
    verifyClient: (info: { req: { url?: string } }, cb: (ok: boolean, code?: number, message?: string) => void) => (info.req.url === '/forbidden' ? cb(false, 403, 'Forbidden') : cb(true)),
  });
  wss.on('connection', (socket, req) => {
    upgrades.push(req.headers);
    socket.send('welcome');
    socket.on('message', (data, binary) => socket.send(binary ? data : `echo:${data.toString()}`, { binary }));
    socket.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() }));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  appPort = (http.address() as { port: number }).port;
  chat = await startWith(nodeBody({ name: 'chat' }), { appPorts: [String(appPort)] });
  client = await startWith(
    nodeBody({
      services: [
        { name: 'chat.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('chat/r', { 'chat:8080': 1 })] }] },
        // The same app behind a route whose idle timeout closes quiet tunnels.
        { name: 'quiet.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('quiet/r', { 'chat:8080': 1 }, undefined, { timeout: { perRequestMs: 15_000, idleMs: 300 } })] }] },
      ],
      clusters: [staticCluster('chat:8080', [chat.handle.ports.inbound!])],
    }),
  );
}, 30_000);

afterAll(async () => {
  await Promise.all([client?.close(), chat?.close()]);
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
  await new Promise((r) => http.close(r));
});

function open(path: string, host = 'chat.demo.local:8080'): WebSocket {
  return new WebSocket(`ws://127.0.0.1:${client.handle.ports.egress!}${path}`, { headers: { host } });
}

test('a WebSocket echo through two sidecars: messages both ways and a clean close', async () => {
  const ws = open('/chat?room=1');
  const received: string[] = [];
  const binaries: Buffer[] = [];
  ws.on('message', (data, binary) => (binary ? binaries.push(data as Buffer) : received.push(data.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (const m of ['one', 'two', 'three']) ws.send(m);
  ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
  await eventually(() => received.length === 4 && binaries.length === 1, 'echoes');
  expect(received).toEqual(['welcome', 'echo:one', 'echo:two', 'echo:three']);
  expect([...binaries[0]]).toEqual([0, 1, 2, 255]);

  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.close(1000, 'bye');
  expect(await closed).toEqual({ code: 1000, reason: 'bye' });
  await eventually(() => serverCloses.length === 1, 'server saw the close');
  expect(serverCloses[0]).toEqual({ code: 1000, reason: 'bye' });

  const seen = upgrades[upgrades.length - 1];
  expect(seen.upgrade).toBe('websocket');
  expect(seen.connection?.toLowerCase()).toBe('upgrade');
  expect(seen['sec-websocket-key']).toBeDefined();
  expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  expect(Object.keys(seen).filter((k) => k.startsWith('x-weft-'))).toEqual([]);
  // The tunnels count as in-flight exchanges until they close.
  await eventually(() => client.handle.stats.egress.active === 0 && chat.handle.stats.inbound.active === 0, 'tunnels released');
});

test('several WebSockets at once stay separate', async () => {
  const sockets = [open('/a'), open('/b'), open('/c')];
  const got = await Promise.all(
    sockets.map(
      (ws, i) =>
        new Promise<string>((resolve, reject) => {
          const msgs: string[] = [];
          ws.on('message', (d) => {
            msgs.push(d.toString());
            if (msgs.length === 2) resolve(msgs[1]);
          });
          ws.once('open', () => ws.send(`socket-${i}`));
          ws.once('error', reject);
        }),
    ),
  );
  expect(got).toEqual(['echo:socket-0', 'echo:socket-1', 'echo:socket-2']);
  await Promise.all(sockets.map((ws) => new Promise((r) => (ws.once('close', r), ws.close()))));
});

test('an upgrade the upstream refuses comes back as an ordinary response', async () => {
  const ws = open('/forbidden');
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('open', () => reject(new Error('opened')));
    ws.once('error', () => undefined);
  });
  expect(status).toBe(403);
});

test('an upgrade to a name outside the mesh gets the sidecar error', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${client.handle.ports.egress!}/`, { headers: { host: 'elsewhere.example' } });
  const res = await new Promise<{ status: number; code: string | string[] | undefined }>((resolve, reject) => {
    ws.once('unexpected-response', (_req, r) => {
      resolve({ status: r.statusCode ?? 0, code: r.headers['x-weft-error'] });
      r.resume();
    });
    ws.once('open', () => reject(new Error('opened')));
    ws.once('error', () => undefined);
  });
  expect(res).toEqual({ status: 404, code: 'WEFT_ERR_EGRESS_DENIED' });
});

test("a quiet tunnel is closed after the route's idle timeout", async () => {
  const ws = open('/quiet', 'quiet.demo.local');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  // Abnormal closure (1006): the sidecar dropped the connection, no close frame was exchanged.
  expect(await closed).toBe(1006);
  await eventually(() => client.handle.stats.egress.active === 0, 'tunnel released');
});
