import { connect } from 'node:net';
import { agent, get, nodeBody, startWith, type Running } from '../harness';

let sidecar: Running;
beforeAll(async () => {
  // No iptables here: connections are not redirected, so TLS is sniffed for its SNI only.
  sidecar = await startWith(nodeBody({ egressFilter: 'ALLOW_ALL' }), { transparent: true });
});
afterAll(async () => {
  await sidecar.close();
  await agent.close();
});

test('a client that resets in the middle of its ClientHello does not take the sidecar down', async () => {
  const socket = connect(sidecar.handle.ports.egress!, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  // A handshake record announcing 64 bytes, of which only the first few arrive.
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03]));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resetAndDestroy();
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect((await get(sidecar.handle.ports.admin, '/ready')).status).toBe(200);
  expect(sidecar.handle.tcpStats.active).toBe(0);
});
