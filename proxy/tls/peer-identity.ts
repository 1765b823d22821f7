/**
 * What a connection proved about its peer, recorded on the socket when the listener accepts it
 * (or finishes its TLS handshake) and read by everything that decides about the peer: control
 * headers, forwarding chains, policy, completion records.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export interface PeerIdentity {
  /** The peer presented a client certificate that the trust bundle verified. */
  authenticated: boolean;
  /** The client certificate's SPIFFE id (first URI SAN), when authenticated. */
  principal: string | undefined;
  encrypted: boolean;
}

const PLAINTEXT: PeerIdentity = Object.freeze({ authenticated: false, principal: undefined, encrypted: false });
const kPeer = Symbol('weft.peer');
type Tagged = { [kPeer]?: PeerIdentity };

/** Records what `socket`'s TLS handshake proved. */
export function setPeer(socket: Duplex, peer: PeerIdentity): void {
  (socket as Duplex & Tagged)[kPeer] = peer;
}

/** The identity of the connection `socket` is (plaintext when nothing was recorded). */
export function peerOfSocket(socket: Duplex | null | undefined): PeerIdentity {
  return (socket as (Duplex & Tagged) | null | undefined)?.[kPeer] ?? PLAINTEXT;
}

/** The identity established for the connection a request arrived on. */
export function peerOf(req: IncomingMessage): PeerIdentity {
  return peerOfSocket(req.socket);
}
