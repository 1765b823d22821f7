/**
 * TCP through two sidecars on 127.0.0.1: client -> sidecar A (egress: CONNECT in explicit mode,
 * ClientHello SNI in transparent mode) -> sidecar B's inbound port -> B's TCP listener -> app.
 */
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../../../proxy/log';
import { agent, eventually, get, nodeBody, staticCluster, startUpstream, startWith, tcpRoute, httpRoute, TIMEOUT, type Running, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';

function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
}

/** Resolves with everything `socket` receives until `expected` bytes arrived. */
function readBytes(socket: Socket, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.length >= expected) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((r) => (socket.destroyed ? r() : socket.once('close', () => r())));
}

class CaptureLogger implements Logger {
  readonly lines: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  log(level: string, event: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level, event, fields });
  }
  codes(): unknown[] {
    return this.lines.map((l) => l.fields.code).filter((c) => c !== undefined);
  }
}

const pki = new TestPki();
let echo: Server;
let echoPort: number;
let tlsEcho: Server;
let tlsEchoPort: number;
let web: Upstream;
const running: Running[] = [];

beforeAll(async () => {
  echo = createNetServer((s) => s.pipe(s));
  echoPort = await listen(echo);
  const ca = pki.ca('ca');
  const leaf = pki.leaf('app', 'spiffe://weft.test/ns/demo/sa/app', ca);
  tlsEcho = createTlsServer({ key: pki.read(leaf, 'key.pem'), cert: pki.read(leaf, 'cert.pem') }, (s) => s.pipe(s));
  tlsEchoPort = await listen(tlsEcho);
  web = await startUpstream('web');
});

afterAll(async () => {
  for (const r of running) await r.close();
  echo.close();
  tlsEcho.close();
  await web.close();
  await agent.close();
  pki.remove();
});

/** Sidecar B: one TCP listener on `appPort`, the app on 127.0.0.1. */
async function startServerSide(appPort: number): Promise<Running> {
  const b = await startWith(nodeBody({ name: 'b', inbound: [{ port: appPort, protocol: 'tcp', timeout: TIMEOUT }] }));
  running.push(b);
  return b;
}

describe('TCP listeners', () => {
  it('echoes through two sidecars: CONNECT on the egress port, then the peer inbound TCP listener', async () => {
    const b = await startServerSide(echoPort);
    const a = await startWith(
      nodeBody({
        services: [{ name: 'echo.demo', listeners: [{ port: 7000, protocol: 'tcp', routes: [tcpRoute('echo/route', 'b:7000')] }] }],
        clusters: [staticCluster('b:7000', [b.handle.ports.inbound!], { protocol: 'tcp', port: 7000 })],
      }),
    );
    running.push(a);
    const client = netConnect({ host: '127.0.0.1', port: a.handle.ports.egress! });
    client.write('CONNECT echo.demo:7000 HTTP/1.1\r\nHost: echo.demo:7000\r\n\r\n');
    const established = await readBytes(client, 'HTTP/1.1 200 Connection Established\r\n\r\n'.length);
    expect(established).toMatch(/^HTTP\/1\.1 200 /);
    client.write('ping-1');
    expect(await readBytes(client, 6)).toBe('ping-1');
    client.write('\u0000\u00ffbinary');
    expect(await readBytes(client, 8)).toBe('\u0000\u00ffbinary');
    expect(b.handle.tcpStats.active).toBe(1);
    expect(b.handle.stats.inbound.requests).toBe(1);
    client.destroy();
    await eventually(() => b.handle.tcpStats.active === 0, 'B closes its side');
    expect(b.handle.tcpStats.connections).toBe(1);
  });

  it('a CONNECT tunnel counts against its cluster while open and closes after the route\'s idle timeout', async () => {
    const b = await startServerSide(echoPort);
    const quickIdle = { ...tcpRoute('echo/route', 'b:7000'), timeout: { perRequestMs: 0, idleMs: 400 } };
    const a = await startWith(
      nodeBody({
        services: [{ name: 'echo.demo', listeners: [{ port: 7000, protocol: 'tcp', routes: [quickIdle] }] }],
        clusters: [staticCluster('b:7000', [b.handle.ports.inbound!], { protocol: 'tcp', port: 7000 })],
      }),
    );
    running.push(a);
    const cluster = a.handle.store.current!.clusters.get('b:7000')!;
    const client = netConnect({ host: '127.0.0.1', port: a.handle.ports.egress! });
    client.write('CONNECT echo.demo:7000 HTTP/1.1\r\nHost: echo.demo:7000\r\n\r\n');
    await readBytes(client, 'HTTP/1.1 200 Connection Established\r\n\r\n'.length);
    client.write('ping');
    await readBytes(client, 4);
    expect(cluster.stats.active).toBe(1);
    // Quiet from here on: the sidecar closes the tunnel and releases the cluster slot.
    await closed(client);
    await eventually(() => cluster.stats.active === 0, 'the tunnel releases its cluster slot');
  });

  it('joins a TCP-only node at accept, so an app that speaks first is heard', async () => {
    const greeter = createNetServer((s) => {
      s.write('220 greeter ready\r\n');
      s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`));
    });
    const greeterPort = await listen(greeter);
    try {
      const b = await startServerSide(greeterPort);
      const client = netConnect({ host: '127.0.0.1', port: b.handle.ports.inbound! });
      // The client sends nothing until the server greets: no sniffing may wait for it.
      expect(await readBytes(client, '220 greeter ready\r\n'.length)).toBe('220 greeter ready\r\n');
      const request = 'GET / HTTP/1.1\r\n\r\n';
      client.write(request);
      expect(await readBytes(client, `echo:${request}`.length)).toBe(`echo:${request}`);
      client.destroy();
    } finally {
      greeter.close();
    }
  });
});

describe('transparent egress (no iptables: connections made to the egress port directly)', () => {
  let a: Running;
  let b: Running;
  const logs = new CaptureLogger();

  beforeAll(async () => {
    b = await startServerSide(tlsEchoPort);
    a = await startWith(
      nodeBody({
        name: 'a',
        services: [
          { name: 'secure.demo', listeners: [{ port: 443, protocol: 'tcp', routes: [tcpRoute('secure/route', 'b:443')] }] },
          { name: 'web.demo', listeners: [{ port: 80, protocol: 'http', routes: [httpRoute('web/route', { 'web:80': 1 })] }] },
        ],
        clusters: [staticCluster('b:443', [b.handle.ports.inbound!], { protocol: 'tcp', port: 443 }), staticCluster('web:80', [web.port], { port: 80 })],
        egressFilter: 'DROP_ALL',
      }),
      { transparent: true },
      { logger: logs },
    );
    running.push(a);
  });

  it('routes a TLS ClientHello by SNI to the mesh service without terminating it', async () => {
    const client = tlsConnect({ host: '127.0.0.1', port: a.handle.ports.egress!, servername: 'secure.demo', ca: pki.read(`${pki.root}/ca`, 'ca.pem'), checkServerIdentity: () => undefined });
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', resolve);
      client.once('error', reject);
    });
    // The certificate is the app's: the sidecars only moved bytes.
    expect(client.getPeerCertificate().subject.CN).toBe('app');
    client.write('over-tls');
    expect(await new Promise<string>((r) => client.once('data', (d: Buffer) => r(d.toString())))).toBe('over-tls');
    expect(a.handle.tcpStats.active).toBe(1);
    expect(b.handle.tcpStats.active).toBe(1);
    const cluster = a.handle.store.current!.clusters.get('b:443')!;
    expect(cluster.stats.requests).toBe(1);
    client.destroy();
    await eventually(() => a.handle.tcpStats.active === 0 && b.handle.tcpStats.active === 0, 'both sides close');
  });

  it('still routes HTTP by Host on the transparent egress port', async () => {
    const res = await get(a.handle.ports.egress!, '/hello', { host: 'web.demo' });
    expect(res.status).toBe(200);
    expect(res.json().name).toBe('web');
  });

  it('refuses a TLS name outside the mesh under DROP_ALL', async () => {
    const before = a.handle.stats.egressDenied;
    const client = tlsConnect({ host: '127.0.0.1', port: a.handle.ports.egress!, servername: 'elsewhere.example', rejectUnauthorized: false });
    client.on('error', () => undefined);
    await closed(client);
    expect(a.handle.stats.egressDenied).toBe(before + 1);
    expect(a.handle.tcpStats.refused.WEFT_ERR_EGRESS_DENIED).toBe(1);
    expect(logs.codes()).toContain('WEFT_ERR_EGRESS_DENIED');
  });

  it('refuses plain TCP that was not redirected (no original destination) with a coded log line', async () => {
    const client = netConnect({ host: '127.0.0.1', port: a.handle.ports.egress! });
    client.on('error', () => undefined);
    client.write('\u0001\u0002not-http');
    await closed(client);
    expect(a.handle.tcpStats.refused.WEFT_ERR_ORIGINAL_DST_UNAVAILABLE).toBe(1);
    expect(logs.codes()).toContain('WEFT_ERR_ORIGINAL_DST_UNAVAILABLE');
  });
});
