/**
 * No input on any socket ends the sidecar process: bytes that a client packs into one write
 * (pipelined requests, CONNECT after CONNECT, requests inside tunnels) are served without growing
 * the call stack, and the process keeps serving. Driven against the built bundle in a child
 * process, through real sockets.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { agent, get, httpRoute, nodeBody, startUpstream, staticCluster, type Upstream } from '../harness';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

let app: Upstream;
let sidecar: SidecarProcess;

beforeAll(async () => {
  app = await startUpstream('legacy');
});

// A fresh process per test: a probe that kills the process must not fail the probes after it.
beforeEach(async () => {
  sidecar = await startSidecarProcess(
    nodeBody({
      services: [{ name: 'legacy.lab.local', listeners: [{ port: 9000, protocol: 'http', routes: [httpRoute('legacy/r', { 'legacy:9000': 1 }, { path: { prefix: '/api' } })] }] }],
      clusters: [staticCluster('legacy:9000', [app.port], { port: 9000 })],
    }),
  );
}, 30_000);

afterEach(async () => {
  await sidecar?.stop();
});

afterAll(async () => {
  await app?.close();
  await agent.close();
});

/** Writes `payload` in one write, reads until the sidecar closes or `quietMs` pass without bytes. */
function blast(port: number, payload: string | Buffer, quietMs = 1_500): Promise<{ bytes: number; text: string }> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      resolve({ bytes: all.length, text: all.toString('latin1') });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    socket.on('connect', () => {
      socket.write(payload);
      arm();
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
  });
}

async function stillServes(): Promise<void> {
  expect(sidecar.exitCode()).toBeUndefined();
  const res = await get(sidecar.ports.egress, '/api/ok', { host: 'legacy.lab.local:9000' });
  expect(res.status).toBe(200);
  expect(res.json().name).toBe('legacy');
}

const count = (text: string, what: string): number => text.split(what).length - 1;

test('901 CONNECTs to a mesh HTTP service in one write, twice: the sidecar survives and serves', async () => {
  const connect = 'CONNECT legacy.lab.local:9000 HTTP/1.1\r\nHost: legacy.lab.local:9000\r\n\r\n';
  for (let round = 0; round < 2; round++) {
    const { text } = await blast(sidecar.ports.egress, connect.repeat(901));
    // Each tunnel answers its CONNECT, and the next CONNECT arrives inside it.
    expect(count(text, 'HTTP/1.1 200 Connection Established')).toBeGreaterThan(0);
  }
  await stillServes();
});

test('thousands of pipelined requests answered by the sidecar itself, in one write, are all answered in order', async () => {
  // No route matches outside /api: every answer is the sidecar's own 404, written synchronously.
  const n = 3_000;
  const { text } = await blast(sidecar.ports.egress, 'GET /nothing HTTP/1.1\r\nHost: legacy.lab.local:9000\r\n\r\n'.repeat(n));
  expect(count(text, 'HTTP/1.1 404 ')).toBe(n);
  await stillServes();
});

test('pipelined refusals of every kind in one write: each connection ends alone, the process serves on', async () => {
  const kinds = [
    'GET /x HTTP/1.1\r\nHost: unknown.example\r\n\r\n', // DROP_ALL egress denial
    'GET http://legacy.lab.local:9000/nothing HTTP/1.1\r\nHost: legacy.lab.local\r\n\r\n', // absolute form, no route
    'POST /nothing HTTP/1.1\r\nHost: legacy.lab.local:9000\r\nContent-Length: 3\r\n\r\nabc', // body, no route
    'GET /nothing HTTP/1.1\r\nHost: legacy.lab.local:9000\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', // upgrade, no route
    'CONNECT unknown.example:443 HTTP/1.1\r\nHost: unknown.example:443\r\n\r\n', // CONNECT denied
  ];
  const results = await Promise.all(kinds.map((k) => blast(sidecar.ports.egress, k.repeat(1_500), 1_000)));
  for (const r of results) expect(r.bytes).toBeGreaterThan(0);
  await stillServes();
});

test('CONNECTs nested inside CONNECT tunnels with requests in between: the sidecar survives and serves', async () => {
  const layer = 'CONNECT legacy.lab.local:9000 HTTP/1.1\r\nHost: legacy.lab.local:9000\r\n\r\nGET /nothing HTTP/1.1\r\nHost: legacy.lab.local:9000\r\n\r\n';
  const { text } = await blast(sidecar.ports.egress, layer.repeat(700));
  expect(count(text, 'HTTP/1.1 200 Connection Established')).toBeGreaterThan(0);
  await stillServes();
});
