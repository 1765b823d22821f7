import { request } from 'node:https';
import { join } from 'node:path';
import { httpRoute, startUpstream, startWith, staticCluster, type ConfigBody, type Running, type Upstream } from '../harness';
import { TestPki } from './test-pki';

let pki: TestPki;
let ca: string;
let app: Upstream;
let sidecar: Running;

beforeAll(async () => {
  pki = new TestPki();
  ca = pki.ca('edge-ca');
  const leaf = pki.leaf('edge', 'spiffe://weft.test/ns/demo/sa/edge', ca);
  app = await startUpstream('app');
  const body: ConfigBody = {
    mesh: { name: 'demo', egressFilter: 'DROP_ALL', trustDomain: 'weft.test' },
    node: { kind: 'virtualGateway', name: 'edge', spiffeId: 'spiffe://weft.test/ns/demo/sa/edge' },
    inbound: { listeners: [], policy: {} },
    gateway: {
      // One-way TLS at the edge with a certificate from files (not the mesh identity).
      listeners: [{ port: 8443, protocol: 'http', tls: { mode: 'STRICT', certificate: { file: { certificateChain: join(leaf, 'cert.pem'), privateKey: join(leaf, 'key.pem') } } } }],
      routes: [{ name: 'edge/app', priority: 0, protocol: 'http', match: { path: { prefix: '/' } }, target: { virtualService: 'app.demo.local' }, rewrite: {} }],
      policy: {},
    },
    outbound: { services: [{ name: 'app.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('app/default', { 'app:8080': 1 })] }] }] },
    clusters: [staticCluster('app:8080', [app.port])],
  };
  sidecar = await startWith(body, {}, { bindGatewayPort: () => 0 });
});
afterAll(async () => {
  await sidecar.close();
  await app.close();
  pki.remove();
});

test('a gateway listener terminates TLS and forwards with x-forwarded-proto https', async () => {
  const seen = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: sidecar.handle.ports.gateway[8443], path: '/secure', ca: pki.read(ca, 'ca.pem'), checkServerIdentity: () => undefined, headers: { host: 'www.example.com' }, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  expect(seen.status).toBe(200);
  const echoed = JSON.parse(seen.body);
  expect(echoed.url).toBe('/secure');
  expect(echoed.headers['x-forwarded-proto']).toBe('https');
  expect(echoed.headers.host).toBe('app.demo.local');
});
