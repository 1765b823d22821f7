import { connect } from 'node:net';
import { agent, eventually, get, nodeBody, startWith, type Running } from '../harness';

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
  const { stats } = sidecar.handle;
  const requestsBefore = stats.egress.requests;
  const socket = connect(sidecar.handle.ports.egress!, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  // A handshake record announcing 64 bytes, of which only the first few arrive.
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03]));
  // Counted once the first bytes were taken as TLS: the sidecar is now reading the ClientHello.
  await eventually(() => stats.egress.requests === requestsBefore + 1, 'the sidecar to take the bytes as a ClientHello');
  expect(stats.listeners.egress.open).toBe(1);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resetAndDestroy();
  await closed;
  // The reset reached the sidecar's end of the connection, which it closed without an uncaught error.
  await eventually(() => stats.listeners.egress.open === 0, 'the sidecar to close its end');
  expect(stats.internalErrors).toBe(0);
  expect((await get(sidecar.handle.ports.admin, '/ready')).status).toBe(200);
  expect(sidecar.handle.tcpStats.active).toBe(0);
});
