/**
 * The gateway listener speaks every protocol the sidecar does: gRPC over TLS with ALPN h2 from a
 * grpc-js client (a gRPC gateway route, then a gRPC route of the target service), HTTP/2 with
 * prior knowledge on a plaintext listener, and WebSocket upgrades.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import WebSocket, { WebSocketServer } from 'ws';
import { httpRoute, startWith, staticCluster, TIMEOUT, type ConfigBody, type Running } from '../harness';
import { TestPki } from '../tls/test-pki';
import { Echo, startGrpcServer, type EchoClient, type Reply } from '../grpc/echo-service';

let pki: TestPki;
let ca: string;
let grpcApp: { server: grpc.Server; port: number };
let wsHttp: Server;
let wss: WebSocketServer;
let gateway: Running;

beforeAll(async () => {
  pki = new TestPki();
  ca = pki.ca('edge-ca');
  const leaf = pki.leaf('edge', 'spiffe://weft.test/ns/demo/sa/edge', ca);
  grpcApp = await startGrpcServer('grpc-edge');
  wsHttp = createServer((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({ server: wsHttp });
  wss.on('connection', (socket, req) => socket.on('message', (d) => socket.send(`${req.url}:${d.toString()}`)));
  await new Promise<void>((r) => wsHttp.listen(0, '127.0.0.1', r));
  const wsPort = (wsHttp.address() as { port: number }).port;
  const tls = { mode: 'STRICT' as const, certificate: { file: { certificateChain: join(leaf, 'cert.pem'), privateKey: join(leaf, 'key.pem') } } };
  const body: ConfigBody = {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      listeners: [
        { port: 8443, protocol: 'grpc', tls },
        { port: 8080, protocol: 'http2' },
      ],
      routes: [
        { name: 'edge/grpc', priority: 0, protocol: 'grpc', match: { serviceName: 'weft.test.Echo', port: 8443 }, target: { virtualService: 'echo.demo.local' }, rewrite: {} },
        { name: 'edge/ws', priority: 1, protocol: 'http', match: { path: { prefix: '/' }, port: 8080 }, target: { virtualService: 'chat.demo.local' }, rewrite: {} },
      ],
      policy: {},
    },
    outbound: {
      services: [
        {
          name: 'echo.demo.local',
          listeners: [
            {
              port: 8080,
              protocol: 'grpc',
              routes: [
                { protocol: 'grpc', name: 'echo/all', priority: 0, match: { serviceName: 'weft.test.Echo' }, action: { weightedTargets: [{ cluster: 'echo:8080', weight: 1 }] }, retryPolicy: { maxRetries: 0, perTryTimeoutMs: 0 }, timeout: TIMEOUT },
              ],
            },
          ],
        },
        { name: 'chat.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('chat/all', { 'chat:8080': 1 })] }] },
      ],
    },
    clusters: [staticCluster('echo:8080', [grpcApp.port], { protocol: 'grpc' }), staticCluster('chat:8080', [wsPort])],
  };
  gateway = await startWith(body, {}, { bindGatewayPort: () => 0 });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  grpcApp?.server.forceShutdown();
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
  await new Promise((r) => wsHttp.close(r));
  pki.remove();
});

test('grpc-js over TLS (ALPN h2) to a gateway: unary and streaming reach the service', async () => {
  const creds = grpc.credentials.createSsl(Buffer.from(pki.read(ca, 'ca.pem')), null, null, { checkServerIdentity: () => undefined });
  const client = new Echo(`127.0.0.1:${gateway.handle.ports.gateway[8443]}`, creds, { 'grpc.default_authority': 'api.example.com' }) as unknown as EchoClient;
  try {
    const reply = await new Promise<Reply | undefined>((resolve, reject) =>
      client.Say({ message: 'edge' }, new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))),
    );
    expect(reply).toMatchObject({ message: 'edge', server: 'grpc-edge' });
    const call = client.Count({ n: 3 });
    const got: string[] = [];
    call.on('data', (r: Reply) => got.push(r.message));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got).toEqual(['#1', '#2', '#3']);
  } finally {
    client.close();
  }
});

test('a WebSocket through the gateway', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${gateway.handle.ports.gateway[8080]}/room`, { headers: { host: 'chat.example.com' } });
  const echoed = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('hi'));
    ws.once('message', (d) => resolve(d.toString()));
    ws.once('error', reject);
  });
  expect(echoed).toBe('/room:hi');
  await new Promise((r) => (ws.once('close', r), ws.close()));
});

test('HTTP/2 prior knowledge on a plaintext gateway listener', async () => {
  const session = connect(`http://127.0.0.1:${gateway.handle.ports.gateway[8080]}`);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/plain', ':authority': 'chat.example.com' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    // The chat app answers plain HTTP with 426 Upgrade Required: the request reached it.
    expect(status).toBe(426);
  } finally {
    session.close();
  }
});
