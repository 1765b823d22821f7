import { connect } from 'node:net';
import { normalizePath } from '../../../proxy/message/request-path';
import { agent, httpRoute, nodeBody, staticCluster, startUpstream, startWith, type Running, type Upstream } from '../harness';

describe('normalizePath (RFC 3986 dot-segment removal)', () => {
  test.each([
    ['/a/b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/b/../c', '/a/c'],
    ['/public/../admin?x=/../y', '/admin?x=/../y'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/a/%2e%2E/b', '/b'],
    ['/a/.%2e/b', '/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/..b/.c/...', '/a/..b/.c/...'],
    ['/a%2F../b', '/a%2F../b'],
    ['/', '/'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizePath(input)).toBe(expected);
  });

  test('a path without dot segments is returned as the same string (no work on the common path)', () => {
    const target = '/orders/42?expand=items';
    expect(normalizePath(target)).toBe(target);
  });
});

describe('the sidecar routes and forwards the normalized path', () => {
  let publicApp: Upstream;
  let privateApp: Upstream;
  let sidecar: Running;

  beforeAll(async () => {
    publicApp = await startUpstream('public');
    privateApp = await startUpstream('private');
    sidecar = await startWith(
      nodeBody({
        services: [
          {
            name: 'site.demo.local',
            listeners: [
              {
                port: 8080,
                protocol: 'http',
                routes: [httpRoute('site/public', { 'public:8080': 1 }, { path: { prefix: '/public/' } }), httpRoute('site/rest', { 'private:8080': 1 })],
              },
            ],
          },
        ],
        clusters: [staticCluster('public:8080', [publicApp.port]), staticCluster('private:8080', [privateApp.port])],
      }),
      { appPorts: [String(privateApp.port)] },
    );
  });
  afterAll(async () => {
    await sidecar.close();
    await Promise.all([publicApp.close(), privateApp.close(), agent.close()]);
  });

  /** Sends one raw request (no client-side normalization) and returns the status line. */
  function rawGet(port: number, target: string, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('error', reject);
      socket.on('close', () => resolve(text.split('\r\n')[0]));
    });
  }

  test('egress: /public/../admin does not match the /public/ route and reaches /admin', async () => {
    const status = await rawGet(sidecar.handle.ports.egress!, '/public/../admin', 'site.demo.local');
    expect(status).toBe('HTTP/1.1 200 OK');
    expect(publicApp.seen).toHaveLength(0);
    expect(privateApp.seen.at(-1)?.url).toBe('/admin');
  });

  test('inbound: the app receives the normalized path', async () => {
    const status = await rawGet(sidecar.handle.ports.inbound!, '/reports/%2e%2e/secrets?q=1', 'app');
    expect(status).toBe('HTTP/1.1 200 OK');
    expect(privateApp.seen.at(-1)?.url).toBe('/secrets?q=1');
  });
});
