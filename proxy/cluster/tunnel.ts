/**
 * The sidecar's one byte tunnel: CONNECT tunnels, TCP listeners and routes, transparent TLS and
 * TCP passthrough, and upgraded (WebSocket) connections all join a client to an upstream here.
 * Both ends are bounded: the upstream must connect (and finish TLS) within the connect timeout,
 * and a tunnel quiet in both directions for the idle timeout is closed. When either side closes,
 * both are destroyed, and the tunnel reports the bytes it carried, once.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { classifyUpstreamError, type FailureKind, UpstreamError, UPSTREAM_CODES } from './upstream-errors';

/** Bytes a tunnel carried: from the client to the upstream, and back. */
export interface TunnelBytes {
  sent: number;
  received: number;
}

/**
 * Joins two connected streams both ways, `head` (bytes the client sent before the join) going to
 * the upstream first. Idle means neither direction moved: each side's timer is refreshed by
 * traffic either way. `onClose` runs once, after both sides are destroyed.
 */
export function joinStreams(client: Duplex, upstream: Duplex, head: Buffer, idleTimeoutMs: number, onClose: (bytes: TunnelBytes) => void): void {
  const bytes: TunnelBytes = { sent: head.length, received: 0 };
  const c = client as Socket;
  const u = upstream as Socket;
  const idle = idleTimeoutMs > 0 && typeof c.setTimeout === 'function' && typeof u.setTimeout === 'function';
  const expire = (): void => {
    client.destroy();
    upstream.destroy();
  };
  if (idle) {
    c.setTimeout(idleTimeoutMs, expire);
    u.setTimeout(idleTimeoutMs, expire);
  }
  client.on('data', (chunk: Buffer) => {
    bytes.sent += chunk.length;
    if (idle) u.setTimeout(idleTimeoutMs);
  });
  upstream.on('data', (chunk: Buffer) => {
    bytes.received += chunk.length;
    if (idle) c.setTimeout(idleTimeoutMs);
  });
  client.on('error', () => client.destroy());
  upstream.on('error', () => upstream.destroy());
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    client.destroy();
    upstream.destroy();
    onClose(bytes);
  };
  client.once('close', finish);
  upstream.once('close', finish);
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}

export interface TunnelLimits {
  /** The upstream must connect (and finish TLS) within this; 0 is none. */
  connectTimeoutMs: number;
  /** Both directions quiet this long: close. 0 is none. */
  idleTimeoutMs: number;
}

export interface TunnelHooks {
  /** The upstream is ready; the streams are about to be joined (a CONNECT answers its client here). */
  opened(): void;
  /** The upstream could not be reached; the client is not touched (the caller answers or closes it). */
  failed(kind: FailureKind, err: Error): void;
  /** The joined tunnel ended. */
  closed(bytes: TunnelBytes): void;
}

/**
 * Waits for `upstream` (just dialled with net.connect or tls.connect) to be ready, then joins it
 * to `client`. The client is paused until then; if it leaves first, the upstream is dropped.
 */
export function openTunnel(client: Duplex, upstream: Socket, tls: boolean, head: Buffer, limits: TunnelLimits, hooks: TunnelHooks): void {
  let state: 'connecting' | 'open' | 'done' = 'connecting';
  client.pause();
  if (limits.connectTimeoutMs > 0) {
    upstream.setTimeout(limits.connectTimeoutMs, () => {
      if (state === 'connecting') upstream.destroy(new UpstreamError(`connect timeout after ${limits.connectTimeoutMs} ms`, UPSTREAM_CODES.connectTimeout));
    });
  }
  const clientGone = (): void => {
    if (state !== 'connecting') return;
    state = 'done';
    upstream.destroy();
  };
  client.once('close', clientGone);
  client.on('error', () => client.destroy());
  upstream.once(tls ? 'secureConnect' : 'connect', () => {
    if (state !== 'connecting') return;
    state = 'open';
    client.off('close', clientGone);
    upstream.setTimeout(0);
    hooks.opened();
    joinStreams(client, upstream, head, limits.idleTimeoutMs, hooks.closed);
  });
  upstream.on('error', (err: Error) => {
    if (state !== 'connecting') return;
    state = 'done';
    client.off('close', clientGone);
    // Past TCP's connect, a TLS socket is in its handshake.
    const stage = tls && !upstream.connecting ? 'handshaking' : 'connecting';
    hooks.failed(classifyUpstreamError(err, stage), err);
  });
}
