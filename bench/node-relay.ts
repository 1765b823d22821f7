/**
 * The floor under any Node mesh sidecar: a Node process that relays bytes between a downstream
 * socket and its own upstream socket, with no HTTP at all (no parsing, routing, pooling or header
 * work). On the mesh path the outbound relay speaks TLS to the inbound relay with the same
 * certificates and verification as the sidecars. Whatever this costs, every sidecar written in
 * Node pays at least as much: it is Node's event loop, streams and TLS layer per request, and
 * the kernel below them. The gap from this floor to Weft is what Weft's own HTTP work costs.
 *
 * One upstream connection per downstream connection: with keep-alive clients that is the same
 * connection reuse a pool gives, without a pool's work. The outbound relay keeps spare TLS
 * connections open and handshaken, one handshake at a time, the way a sidecar's pool stays warm
 * between bursts: wrk opens its 32 connections at once at the start of every phase, and 32
 * handshakes on the spot (~2 ms of CPU each side in Node) would put ~100 ms of queueing into the
 * phase's p99 that no pooled proxy pays.
 *
 * It runs as its own small script (dist/node-relay.js, from node-relay-main.ts), not from the bench
 * bundle: a relay carrying the whole harness in its heap met V8's mark-compact loop
 * (docs/decisions/0003-initial-old-space.md) and measured 20 ms p99s that were the harness's, not
 * Node's (docs/decisions/0012-node-relay-floor.md).
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { IdentityFiles } from './certs';

/** Spare TLS connections the outbound relay keeps ready: twice wrk's connections, for the churn between phases. */
const SPARE_CONNECTIONS = 64;

/** `plain`: TCP both sides; `outbound`: TCP in, TLS out; `inbound`: TLS in (client certificate required), TCP out. */
export type RelayMode = 'plain' | 'outbound' | 'inbound';

/** Copies `from` into `to` with backpressure; either side closing closes both. */
function relay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

export interface RunningRelay {
  server: Server;
  /** Stops listening and closes every connection, spares included. */
  close(): void;
}

/** Starts a relay listening on `port` (0: any free port). `identity` is needed for the TLS modes. */
export function serveNodeRelay(mode: RelayMode, port: number, targetPort: number, identity: Pick<IdentityFiles, 'privateKey' | 'certificate' | 'trustBundle'> | undefined): RunningRelay {
  if (mode !== 'plain' && identity === undefined) throw new Error(`node-relay ${mode}: needs a key, a certificate and a trust bundle`);
  const creds = identity && { key: readFileSync(identity.privateKey), cert: readFileSync(identity.certificate), ca: readFileSync(identity.trustBundle), minVersion: 'TLSv1.3' as const };
  let closed = false;
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };
  const connectUpstream = (): Socket => {
    const socket =
      mode === 'outbound'
        ? // The chain is verified against the mesh trust; the peer's name is not checked (the bench's peer is fixed).
          tlsConnect({ host: '127.0.0.1', port: targetPort, ...creds, checkServerIdentity: () => undefined })
        : netConnect({ host: '127.0.0.1', port: targetPort });
    socket.setNoDelay(true);
    track(socket);
    return socket;
  };
  /** Handshaken spare connections, each with the listener that drops it from the list if it closes. */
  const spares: { socket: Socket; onClose: () => void }[] = [];
  let refilling = false;
  const refill = (): void => {
    if (closed || refilling || spares.length >= SPARE_CONNECTIONS) return;
    refilling = true;
    const socket = connectUpstream();
    const onError = (): void => {
      socket.destroy();
      // Failed before it was ready (the peer is not up yet): try again later.
      setTimeout(() => {
        refilling = false;
        refill();
      }, 1_000);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      const spare = { socket, onClose: () => spares.splice(spares.indexOf(spare), 1) };
      socket.once('close', spare.onClose);
      spares.push(spare);
      refilling = false;
      refill();
    });
  };
  const takeUpstream = (): Socket => {
    let spare = spares.pop();
    // One the peer closed whose 'close' is not delivered yet would fail the relay at once.
    while (spare !== undefined && (spare.socket.destroyed || !spare.socket.writable)) spare = spares.pop();
    refill();
    if (spare === undefined) return connectUpstream();
    spare.socket.off('close', spare.onClose);
    return spare.socket;
  };
  if (mode === 'outbound') refill();
  const onConnection = (downstream: Socket): void => {
    downstream.setNoDelay(true);
    track(downstream);
    const upstream = mode === 'outbound' ? takeUpstream() : connectUpstream();
    relay(downstream, upstream);
    relay(upstream, downstream);
  };
  const server = mode === 'inbound' ? createTlsServer({ ...creds, requestCert: true, rejectUnauthorized: true }, onConnection) : createNetServer(onConnection);
  server.listen(port, '127.0.0.1');
  return {
    server,
    close: () => {
      closed = true;
      server.close();
      for (const socket of open) socket.destroy();
    },
  };
}

/** Parses the relay's command line: `<mode> <port> <target port> [<key> <cert> <trust>]`. */
export function relayArgs(argv: readonly string[]): Parameters<typeof serveNodeRelay> {
  const [mode, port, target, privateKey, certificate, trustBundle] = argv;
  if (mode !== 'plain' && mode !== 'outbound' && mode !== 'inbound') throw new Error(`node-relay: mode must be plain, outbound or inbound, got ${mode}`);
  return [mode, Number(port), Number(target), mode === 'plain' ? undefined : { privateKey, certificate, trustBundle }];
}
