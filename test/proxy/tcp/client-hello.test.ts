import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { looksLikeHttp } from '../../../proxy/tcp/divert';
import { looksLikeTls, parseClientHello } from '../../../proxy/tcp/client-hello';

/** The ClientHello a real Node TLS client sends (captured by a plain TCP server). */
async function captureHello(servername: string | undefined): Promise<Buffer> {
  let resolveHello!: (b: Buffer) => void;
  const hello = new Promise<Buffer>((r) => (resolveHello = r));
  const server = createServer((s) => {
    let data = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
      if (data.length >= 5 && data.length >= 5 + data.readUInt16BE(3)) {
        resolveHello(data);
        s.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
  client.on('error', () => undefined);
  const bytes = await hello;
  client.destroy();
  server.close();
  return bytes;
}

/** Re-frames one handshake record as two records split at `at` (what large ClientHellos look like). */
function splitRecord(hello: Buffer, at: number): Buffer {
  const body = hello.subarray(5);
  const record = (part: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
  return Buffer.concat([record(body.subarray(0, at)), record(body.subarray(at))]);
}

describe('parseClientHello', () => {
  it('reads the SNI of a real ClientHello, lowercased', async () => {
    const hello = await captureHello('API.Example.test');
    expect(looksLikeTls(hello)).toBe(true);
    expect(parseClientHello(hello)).toEqual({ kind: 'client-hello', serverName: 'api.example.test' });
  });

  it('reports no server name when the client sent none', async () => {
    // Node sends no SNI for an IP address.
    expect(parseClientHello(await captureHello(undefined))).toEqual({ kind: 'client-hello', serverName: undefined });
  });

  it('asks for more bytes at every cut of a ClientHello, then decides', async () => {
    const hello = await captureHello('svc.mesh.local');
    for (const cut of [1, 4, 5, 9, 50, hello.length - 1]) expect(parseClientHello(hello.subarray(0, cut)).kind).toBe('incomplete');
    expect(parseClientHello(hello)).toMatchObject({ serverName: 'svc.mesh.local' });
  });

  it('reassembles a ClientHello split over two records', async () => {
    const hello = await captureHello('split.example');
    const split = splitRecord(hello, 20);
    expect(parseClientHello(split.subarray(0, 5 + 20 + 3)).kind).toBe('incomplete');
    expect(parseClientHello(split)).toEqual({ kind: 'client-hello', serverName: 'split.example' });
  });

  it('rejects what is not a ClientHello', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).kind).toBe('invalid');
    // A handshake record that carries a ServerHello (type 2).
    expect(parseClientHello(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]))).toMatchObject({ kind: 'invalid' });
    // A ClientHello whose session id length runs past the message.
    const truncated = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x27, 0x01, 0x00, 0x00, 0x23, 0x03, 0x03, ...Buffer.alloc(32), 0xff]);
    expect(parseClientHello(truncated)).toMatchObject({ kind: 'invalid' });
  });
});

describe('looksLikeHttp', () => {
  it.each([
    ['GET / HTTP/1.1\r\n', true],
    ['VERSION-CONTROL / HTTP/1.1', true],
    ['PRI * HTTP/2.0\r\n', true],
    ['GE', true],
    ['\u0016\u0003\u0001', false],
    ['PING\r\n', false],
    ['hello world', false],
    ['*1\r\n$4\r\nPING\r\n', false],
  ])('%j -> %s', (text, expected) => {
    expect(looksLikeHttp(Buffer.from(text, 'latin1'))).toBe(expected);
  });
});
