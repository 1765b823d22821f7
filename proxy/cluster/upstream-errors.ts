/**
 * Why an exchange with an upstream failed, in the words every part of the data path uses: the
 * HTTP attempt, CONNECT and TCP tunnels, outcomes reported to endpoints, the client's error
 * response and the completion record. One classification, so that a TLS failure is a TLS failure
 * whichever path met it.
 */

/**
 * - `connect`: no connection (refused, unreachable, connect timeout).
 * - `tls`: the TLS handshake failed, or the peer's certificate or identity was rejected.
 * - `reset`: the connection closed or reset before the response was complete.
 * - `protocol`: the upstream's response broke HTTP (a malformed head or chunk, bytes past the end).
 * - `timeout`: the request's deadline (the route timeout) passed.
 * - `try-timeout`: one attempt's deadline (a retry policy's per-try timeout) passed.
 * - `overflow`: a circuit breaker refused it before any attempt.
 * - `no-endpoint`: the cluster had no endpoint to try.
 * - `client-gone`: the client closed first.
 * - `body-too-large`: the request body passed the sidecar's limit while it streamed.
 */
export type FailureKind = 'connect' | 'tls' | 'reset' | 'protocol' | 'timeout' | 'try-timeout' | 'overflow' | 'no-endpoint' | 'client-gone' | 'body-too-large';

/** An error raised by the sidecar's own upstream clients, with a stable code. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Codes of the sidecar's own upstream clients (undici's names, which they follow). */
export const UPSTREAM_CODES = {
  connectTimeout: 'UND_ERR_CONNECT_TIMEOUT',
  socket: 'UND_ERR_SOCKET',
  invalidResponse: 'UND_ERR_INVALID_RESPONSE',
  aborted: 'UND_ERR_ABORTED',
  closed: 'UND_ERR_CLOSED',
  destroyed: 'UND_ERR_DESTROYED',
} as const;

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|WEFT_ERR_PEER_IDENTITY)/;
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', UPSTREAM_CODES.connectTimeout]);

/** How far a connection to an upstream had come when an error ended it. */
export type ConnectStage = 'connecting' | 'handshaking' | 'connected';

/**
 * Classifies an error from a connection to an upstream. A TLS error code is `tls` whenever it
 * comes; a socket error while TCP is being set up is `connect`; any other error during the TLS
 * handshake (the peer closing on a certificate it refused) is `tls`; after that, a malformed
 * response is `protocol` and anything else a `reset`.
 */
export function classifyUpstreamError(err: Error | undefined, stage: ConnectStage): FailureKind {
  const code = (err as { code?: unknown } | undefined)?.code;
  const text = typeof code === 'string' ? code : '';
  if (TLS_CODE.test(text)) return 'tls';
  if (CONNECT_CODES.has(text) || stage === 'connecting') return 'connect';
  if (stage === 'handshaking') return 'tls';
  if (text === UPSTREAM_CODES.invalidResponse) return 'protocol';
  return 'reset';
}
