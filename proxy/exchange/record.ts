/**
 * One completion record per request and per TCP connection, however it ends: forwarded and
 * answered, refused by the sidecar, redirected, refused by policy, cut by the client, or a byte
 * stream closed. Metrics, access logs and spans are written from it, through one call
 * ({@link RecordSink}), so that nothing is counted twice or forgotten.
 *
 * The record is filled in along the way (no copies) and cheap to make: one object with fields of
 * fixed types, created when the request arrives.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PeerIdentity } from '../tls/peer-identity';

export type ListenerKind = 'inbound' | 'egress' | 'gateway';

/**
 * Envoy's response flags, for the reasons Weft has: why a request did not get the upstream's
 * answer. `-` when it did.
 */
export const RESPONSE_FLAGS = {
  /** No healthy upstream (the cluster had no endpoint to try). */
  noHealthyUpstream: 'UH',
  /** Upstream connection failure (connect or TLS). */
  upstreamConnectFailure: 'UF',
  /** Upstream overflow: a circuit breaker refused. */
  overflow: 'UO',
  /** No route (or no cluster) for the request. */
  noRoute: 'NR',
  /** Upstream request timeout. */
  upstreamTimeout: 'UT',
  /** Upstream connection termination before a complete response. */
  upstreamTerminated: 'UC',
  /** Upstream protocol error (a malformed response). */
  upstreamProtocolError: 'UPE',
  /** Downstream connection termination (the client left). */
  downstreamTerminated: 'DC',
  /** Downstream protocol error (a malformed request). */
  downstreamProtocolError: 'DPE',
  /** Refused by inbound policy (authorization, JWT). */
  policyDenied: 'RBAC',
  /** The retry policy's retries were used up (or refused by the retry budget) on a retriable failure. */
  retryLimitExceeded: 'URX',
  /** Refused by a local rate limit. */
  rateLimited: 'RL',
  /** Refused by the sidecar while draining, or as destination outside the mesh under DROP_ALL. */
  localRefusal: 'LR',
  /** The route's fault injection aborted the request (Envoy's fault filter). */
  faultInjectedAbort: 'FI',
  /** The route's fault injection delayed the request. */
  delayInjected: 'DI',
} as const;

export class CompletionRecord {
  /** `http` for a request, `tcp` for a byte stream (TCP listener or route, tunnels). */
  readonly kind: 'http' | 'tcp';
  readonly listener: ListenerKind;
  /** Wall-clock start (ms since the epoch), for logs. */
  readonly startedAt: number;
  /** Monotonic start (performance.now()), for durations. */
  readonly start: number;
  method = '';
  /** Host (authority) the request named. */
  authority = '';
  path = '';
  /** `HTTP/1.1`, `HTTP/1.0`, `HTTP/2` or `TCP`. */
  protocol = '';
  route: string | undefined = undefined;
  /** The virtual service an egress or gateway request named (the routing table's, not a copy); undefined inbound. */
  virtualService: string | undefined = undefined;
  cluster: string | undefined = undefined;
  /** `address:port` of the endpoint of the last attempt. */
  endpoint: string | undefined = undefined;
  /** Status sent to the client; 0 when none was (client gone, a byte stream, a cut response). */
  status = 0;
  grpcStatus: number | undefined = undefined;
  /** Response flags (RESPONSE_FLAGS), comma-separated; `-` for none. */
  flags = '-';
  /** The sidecar's code when it answered or refused itself. */
  errorCode: string | undefined = undefined;
  /** W3C trace id (32 hex digits) of the request's trace, when it has one. */
  traceId: string | undefined = undefined;
  /** This hop's span id (16 hex digits), sent on as the next hop's parent; set while tracing is on. */
  spanId: string | undefined = undefined;
  /** The caller's span id, this hop's parent; undefined when this hop started the trace. */
  parentSpanId: string | undefined = undefined;
  /** The trace's sampling decision: a span is written only when true. */
  traceSampled: boolean | undefined = undefined;
  /** Attempts sent upstream. */
  attempts = 0;
  /** Body bytes from the client (TCP: stream bytes). */
  bytesReceived = 0;
  /** Body bytes to the client (TCP: stream bytes). */
  bytesSent = 0;
  /** Time from start to the upstream's response head, ms; -1 when there was none. */
  upstreamMs = -1;
  /** Time from start to completion, ms. */
  durationMs = 0;
  peerAddress = '';
  peerPrincipal: string | undefined = undefined;
  requestId: string | undefined = undefined;
  /** The request's headers as the client sent them, for what a sink reads lazily (access log `%REQ(X)%`). */
  headers: IncomingHttpHeaders | undefined = undefined;

  constructor(kind: 'http' | 'tcp', listener: ListenerKind, peerAddress: string, peer: PeerIdentity) {
    this.kind = kind;
    this.listener = listener;
    this.startedAt = Date.now();
    this.start = performance.now();
    this.peerAddress = peerAddress;
    this.peerPrincipal = peer.principal;
  }

  /** Adds a response flag. */
  flag(flag: string): void {
    this.flags = this.flags === '-' ? flag : `${this.flags},${flag}`;
  }
}

/** Where completion records go: stats today; metrics, access logs and spans hang here. */
export type RecordSink = (record: CompletionRecord) => void;
