/**
 * An upstream whose chunked body breaks: before any byte of the response has left the sidecar,
 * the client gets a 502; after, the client's message is cut (the connection closes before the
 * last chunk), which is the only honest signal left. The sidecar runs in a child process.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { agent, httpRoute, nodeBody, staticCluster } from '../harness';
import { rawExchange } from './raw-http';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

let upstream: NetServer;
let sidecar: SidecarProcess;
const sockets = new Set<Socket>();

beforeAll(async () => {
  upstream = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (d) => {
      const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';
      if (d.toString().startsWith('GET /at-once')) {
        // The head and a malformed chunk size in one write.
        socket.write(`${head}zz\r\nhello\r\n`);
      } else {
        socket.write(`${head}5\r\nhello\r\n`);
        setTimeout(() => socket.write('5\r\nworld\r\nnot-a-chunk\r\n'), 200);
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as { port: number }).port;
  sidecar = await startSidecarProcess(
    nodeBody({
      services: [{ name: 'broken.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('broken/r', { 'broken:8080': 1 })] }] }],
      clusters: [staticCluster('broken:8080', [port])],
    }),
  );
}, 30_000);

afterAll(async () => {
  await sidecar?.stop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => upstream?.close(r));
  await agent.close();
});

test('broken before any byte left: 502 WEFT_ERR_UPSTREAM_RESET instead of an empty reply', async () => {
  const reply = await rawExchange(sidecar.ports.egress, 'GET /at-once HTTP/1.1\r\nHost: broken.demo.local:8080\r\n\r\n', { until: (t) => t.endsWith('\n') && t.includes('WEFT_ERR_UPSTREAM_RESET: ') });
  expect(reply.status).toBe(502);
  expect(reply.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_RESET');
  expect(reply.text).not.toContain('200 OK');
});

test('broken after the response started: the client gets the bytes so far, then the connection closes before the last chunk', async () => {
  const reply = await rawExchange(sidecar.ports.egress, 'GET /later HTTP/1.1\r\nHost: broken.demo.local:8080\r\n\r\n');
  expect(reply.status).toBe(200);
  expect(reply.body).toContain('hello');
  expect(reply.closed).toBe(true);
  expect(reply.body.endsWith('0\r\n\r\n')).toBe(false);
});
