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
  /** Lower-case hex SHA-256 of the client certificate's DER, when authenticated (Envoy's XFCC `Hash`). */
  certificateHash?: string;
  /** The `x-forwarded-client-cert` value for requests on this connection, made once on first use. */
  forwardedClientCert?: string;
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

/** The XFCC header's name: Envoy's, which apps behind Envoy and Istio already read. */
export const FORWARDED_CLIENT_CERT = 'x-forwarded-client-cert';

/**
 * The `x-forwarded-client-cert` value telling an app who called over mTLS, in Envoy's format
 * (`By=<this node's SPIFFE id>;Hash=<client certificate SHA-256>;URI=<caller's SPIFFE id>`);
 * undefined for a peer that did not authenticate. Made once per connection.
 */
export function forwardedClientCert(peer: PeerIdentity, ownId: string | undefined): string | undefined {
  if (!peer.authenticated) return undefined;
  if (peer.forwardedClientCert === undefined) {
    const parts = [];
    if (ownId !== undefined) parts.push(`By=${ownId}`);
    if (peer.certificateHash !== undefined) parts.push(`Hash=${peer.certificateHash}`);
    if (peer.principal !== undefined) parts.push(`URI=${peer.principal}`);
    peer.forwardedClientCert = parts.join(';');
  }
  return peer.forwardedClientCert;
}
