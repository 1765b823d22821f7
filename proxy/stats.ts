/**
 * Counters the admin endpoint reports. Plain number fields that the request path bumps in
 * place: no maps, no allocation per request.
 */

/** Responses by status class: index 1 is 1xx ... index 5 is 5xx (0 is unused). */
export type StatusClasses = [number, number, number, number, number, number];

export interface TrafficStats {
  requests: number;
  active: number;
  responses: StatusClasses;
}

export function newTrafficStats(): TrafficStats {
  return { requests: 0, active: 0, responses: [0, 0, 0, 0, 0, 0] };
}

/** Counts one response by class. */
export function countResponse(stats: TrafficStats, status: number): void {
  const cls = (status / 100) | 0;
  if (cls >= 1 && cls <= 5) stats.responses[cls]++;
}

/** Connection counters of one listening port. */
export interface ListenerStats {
  /** Connections open now (a gauge). */
  open: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections closed at accept because the port had its maximum open. */
  refused: number;
  /** HTTP/1.1 request heads parsed. */
  heads: number;
  /** Bytes the HTTP/1.1 head parser examined: about the heads' size, however they were split. */
  headBytesScanned: number;
  /** TLS handshakes that failed or whose peer was refused (subject alternative names). */
  tlsHandshakeFailures: number;
}

export function newListenerStats(): ListenerStats {
  return { open: 0, accepted: 0, refused: 0, heads: 0, headBytesScanned: 0, tlsHandshakeFailures: 0 };
}

/** Sidecar-wide counters, one {@link TrafficStats} per listener kind. */
export interface SidecarStats {
  inbound: TrafficStats;
  egress: TrafficStats;
  gateway: TrafficStats;
  /** Per listening port, by listener name (`inbound`, `egress`, `gateway:<port>`). */
  listeners: Record<string, ListenerStats>;
  egressPassthrough: number;
  egressDenied: number;
  tunnels: number;
  clientErrors: number;
  /** Connections destroyed because handling them threw (a bug; each is logged, rate-limited). */
  internalErrors: number;
}

export function newSidecarStats(): SidecarStats {
  return {
    inbound: newTrafficStats(),
    egress: newTrafficStats(),
    gateway: newTrafficStats(),
    listeners: {},
    egressPassthrough: 0,
    egressDenied: 0,
    tunnels: 0,
    clientErrors: 0,
    internalErrors: 0,
  };
}

/** The JSON shape of one {@link TrafficStats}: classes keyed `1xx`..`5xx`. */
export function renderTraffic(stats: TrafficStats): Record<string, unknown> {
  const r = stats.responses;
  return { requests: stats.requests, active: stats.active, responses: { '1xx': r[1], '2xx': r[2], '3xx': r[3], '4xx': r[4], '5xx': r[5] } };
}
