/** The bench's Node byte relay: the floor path must really carry HTTP and really require mTLS. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, request, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { generateMeshCertificates, type IdentityFiles } from '../../bench/certs';
import { relayArgs, serveNodeRelay, type RunningRelay } from '../../bench/node-relay';
import { hasCommand } from '../../bench/tools';

const portOf = (s: Server | HttpServer): number => (s.address() as AddressInfo).port;

function get(port: number): Promise<{ status: number; body: string; via: string | undefined }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/hello', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, via: res.headers['x-seen-path'] as string | undefined }));
    })
      .on('error', reject)
      .end();
  });
}

(hasCommand('openssl') ? describe : describe.skip)('node byte relay', () => {
  let dir: string;
  let certs: Map<string, IdentityFiles>;
  const relays: RunningRelay[] = [];
  let upstream: HttpServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-relay-'));
    certs = generateMeshCertificates(join(dir, 'certs'), ['client', 'server']);
    upstream = createServer((req, res) => res.writeHead(200, { 'x-seen-path': req.url }).end('from upstream'));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
  });
  afterAll(async () => {
    for (const r of relays) r.close();
    upstream.closeAllConnections();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(...args: Parameters<typeof serveNodeRelay>): Promise<Server> {
    const relay = serveNodeRelay(...args);
    relays.push(relay);
    await once(relay.server, 'listening');
    return relay.server;
  }

  test('one hop relays a request and its response unchanged', async () => {
    const relay = await start('plain', 0, portOf(upstream), undefined);
    await expect(get(portOf(relay))).resolves.toEqual({ status: 200, body: 'from upstream', via: '/hello' });
  });

  test('two hops: the outbound relay reaches the upstream through the inbound relay over mTLS', async () => {
    const inbound = await start('inbound', 0, portOf(upstream), certs.get('server')!);
    const outbound = await start('outbound', 0, portOf(inbound), certs.get('client')!);
    await expect(get(portOf(outbound))).resolves.toEqual({ status: 200, body: 'from upstream', via: '/hello' });
  });

  test('the outbound relay keeps handshaken spare connections to its peer before any client comes', async () => {
    const inbound = await start('inbound', 0, portOf(upstream), certs.get('server')!);
    await start('outbound', 0, portOf(inbound), certs.get('client')!);
    const connections = (): Promise<number> => new Promise((resolve, reject) => inbound.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const deadline = Date.now() + 10_000;
    while ((await connections()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await connections()).toBeGreaterThanOrEqual(4);
  });

  test('the inbound relay refuses a TLS client without a certificate', async () => {
    const inbound = await start('inbound', 0, portOf(upstream), certs.get('server')!);
    const server = certs.get('server')!;
    const socket = tlsConnect({ host: '127.0.0.1', port: portOf(inbound), ca: readFileSync(server.trustBundle), checkServerIdentity: () => undefined });
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toMatch(/^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$|^ECONNRESET$/);
    expect(received).toBe('');
  });

  test('command line: TLS modes need their three files; unknown modes are refused', () => {
    expect(relayArgs(['outbound', '1', '2', 'k', 'c', 't'])).toEqual(['outbound', 1, 2, { privateKey: 'k', certificate: 'c', trustBundle: 't' }]);
    expect(relayArgs(['plain', '1', '2'])).toEqual(['plain', 1, 2, undefined]);
    expect(() => relayArgs(['sideways', '1', '2'])).toThrow('mode must be plain, outbound or inbound, got sideways');
    expect(() => serveNodeRelay('inbound', 0, 1, undefined)).toThrow('node-relay inbound: needs a key, a certificate and a trust bundle');
  });
});
