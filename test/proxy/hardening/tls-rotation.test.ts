/**
 * When a sidecar's trust bundle or certificate changes, connections made under the old ones are
 * retired: no new request rides them, requests in flight finish. Two sidecars in child
 * processes with file certificates, rotated by rewriting the files as a volume update would.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent, eventually, get, httpRoute, nodeBody, startUpstream, staticCluster, TIMEOUT, type Upstream } from '../harness';
import { TestPki } from '../tls/test-pki';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process';

const CLIENT_ID = 'spiffe://weft.test/ns/demo/sa/client';
const SERVER_ID = 'spiffe://weft.test/ns/demo/sa/server';

let pki: TestPki;
let meshCa: string;
let otherCa: string;
let app: Upstream;
let server: SidecarProcess;
let client: SidecarProcess;
let serverCerts: string;
let clientCerts: string;
let round = 0;

const mtls = { mode: 'MUTUAL' as const, certificate: { mesh: true as const }, trust: { mesh: true as const }, subjectAlternativeNames: [SERVER_ID] };
const strict = { mode: 'STRICT' as const, certificate: { mesh: true as const }, validation: { trust: { mesh: true as const }, subjectAlternativeNames: [CLIENT_ID] } };

beforeAll(async () => {
  pki = new TestPki();
  meshCa = pki.ca('mesh-ca');
  otherCa = pki.ca('other-ca');
  app = await startUpstream('app', { delayMs: 0 });
});

beforeEach(async () => {
  round++;
  serverCerts = pki.leaf(`server-${round}`, SERVER_ID, meshCa);
  clientCerts = pki.leaf(`client-${round}`, CLIENT_ID, meshCa);
  server = await startSidecarProcess(nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), [
    '--cert-source',
    `file:${serverCerts}`,
    '--app-ports',
    String(app.port),
  ]);
  client = await startSidecarProcess(
    nodeBody({
      services: [{ name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] }],
      clusters: [staticCluster('server:8080', [server.ports.inbound], { tls: mtls })],
    }),
    ['--cert-source', `file:${clientCerts}`],
  );
}, 30_000);

afterEach(async () => {
  await Promise.all([server?.stop(), client?.stop()]);
});

afterAll(async () => {
  await app?.close();
  await agent.close();
  pki?.remove();
});

/** Replaces a certificate directory's trust bundle the way a mounted secret changes: write, then rename. */
function trustOnly(certDir: string, caDir: string): void {
  const tmp = join(certDir, '.trust-bundle.pem.new');
  writeFileSync(tmp, readFileSync(join(caDir, 'ca.pem')));
  renameSync(tmp, join(certDir, 'trust-bundle.pem'));
}

const call = (path: string) => get(client.ports.egress, path, { host: 'server.demo.local:8080' });

async function inboundStats(p: SidecarProcess): Promise<{ open: number }> {
  const res = await get(p.ports.admin, '/stats', { host: '127.0.0.1' });
  return (res.json() as unknown as { connections: Record<string, { open: number }> }).connections.inbound;
}

const rotations = (p: SidecarProcess) => p.events().filter((e) => e.event === 'certificate_rotated').length;

test('the server stops trusting the client: its pooled connection is retired, the next request is refused by the new trust', async () => {
  expect((await call('/before')).status).toBe(200);
  trustOnly(serverCerts, otherCa);
  await eventually(() => rotations(server) === 1, 'the server to apply the new trust bundle');
    // Under TLS 1.3 the client's side of the handshake is done before the server judges its
  // certificate, so the refusal arrives as a connection closed before any response.
  const res = await call('/after');
  expect(res.status).toBeGreaterThanOrEqual(502);
  expect(['WEFT_ERR_UPSTREAM_TLS', 'WEFT_ERR_UPSTREAM_RESET']).toContain(res.headers['x-weft-error']);
});

test('the client stops trusting the server: its pool is replaced and the next request fails the new trust', async () => {
  expect((await call('/before')).status).toBe(200);
  trustOnly(clientCerts, otherCa);
  await eventually(() => rotations(client) === 1, 'the client to apply the new trust bundle');
  const res = await call('/after');
  expect(res.status).toBe(503);
  expect(res.headers['x-weft-error']).toBe('WEFT_ERR_UPSTREAM_TLS');
});

test('a request in flight on a retired connection finishes; the connection closes after it', async () => {
  const slow = await startUpstream('slow', { delayMs: 1_500 });
  // Point the server at the slow app for this test (a config reload keeps the TLS, so no retirement yet).
  await server.stop();
  server = await startSidecarProcess(nodeBody({ name: 'server', inbound: [{ port: 8080, protocol: 'http', tls: strict, timeout: TIMEOUT }] }), [
    '--cert-source',
    `file:${serverCerts}`,
    '--app-ports',
    String(slow.port),
  ]);
  await client.stop();
  client = await startSidecarProcess(
    nodeBody({
      services: [{ name: 'server.demo.local', listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('server/r', { 'server:8080': 1 })] }] }],
      clusters: [staticCluster('server:8080', [server.ports.inbound], { tls: mtls })],
    }),
    ['--cert-source', `file:${clientCerts}`],
  );
  try {
    const inFlight = call('/slow');
    await eventually(() => slow.seen.length === 1, 'the request to reach the app');
    // Rotate to a bundle that still trusts the client: only the rotation itself retires connections.
    const both = join(serverCerts, '.both.pem');
    writeFileSync(both, readFileSync(join(meshCa, 'ca.pem'), 'utf8') + readFileSync(join(otherCa, 'ca.pem'), 'utf8'));
    renameSync(both, join(serverCerts, 'trust-bundle.pem'));
    await eventually(() => rotations(server) === 1, 'the server to apply the new trust bundle');
    const res = await inFlight;
    expect(res.status).toBe(200);
    // The connection it rode was closed after it, though it is idle in the client's pool.
    await eventually(async () => (await inboundStats(server)).open === 0, 'the retired connection to close');
    // The next request works, on a new connection accepted under the new bundle.
    expect((await call('/next')).status).toBe(200);
  } finally {
    await slow.close();
  }
});
