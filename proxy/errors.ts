/**
 * Every response the sidecar writes itself carries one of these codes in `x-weft-error`, with the
 * status and a short body a person can act on. One table, so docs, tests and dashboards agree.
 */
import type { ServerResponse } from 'node:http';
import { CONTROL_HEADERS } from './contracts/mesh-layout';

export const WEFT_ERRORS = {
  WEFT_ERR_BAD_REQUEST: { status: 400, body: 'malformed HTTP request (framing, header syntax or a missing Host)' },
  WEFT_ERR_REQUEST_HEADERS_TOO_LARGE: { status: 431, body: 'request headers are too large or too many' },
  WEFT_ERR_REQUEST_HEADERS_TIMEOUT: { status: 408, body: 'the request headers did not arrive in time' },
  WEFT_ERR_REQUEST_BODY_TIMEOUT: { status: 408, body: 'the request body did not arrive in time' },
  WEFT_ERR_REQUEST_BODY_TOO_LARGE: { status: 413, body: 'the request body is larger than this sidecar accepts' },
  WEFT_ERR_BAD_TARGET: { status: 400, body: 'the request target is not a valid host, port or URL' },
  WEFT_ERR_EGRESS_DENIED: { status: 404, body: 'destination is not a service of this mesh and the mesh egress filter is DROP_ALL' },
  WEFT_ERR_EGRESS_LOOP: { status: 508, body: 'the destination is this sidecar itself' },
  WEFT_ERR_NO_ROUTE: { status: 404, body: 'no route of the virtual service matched the request' },
  WEFT_ERR_GATEWAY_NO_ROUTE: { status: 404, body: 'no gateway route matched the request' },
  WEFT_ERR_UNKNOWN_CLUSTER: { status: 500, body: 'the route names a cluster this sidecar does not have' },
  WEFT_ERR_NO_HEALTHY_UPSTREAM: { status: 503, body: 'the target has no endpoints' },
  WEFT_ERR_UPSTREAM_CONNECT: { status: 503, body: 'could not connect to the upstream endpoint' },
  WEFT_ERR_UPSTREAM_TLS: { status: 503, body: 'TLS with the upstream endpoint failed (certificate or identity rejected)' },
  WEFT_ERR_UPSTREAM_RESET: { status: 502, body: 'the upstream closed the connection before a complete response' },
  WEFT_ERR_UPSTREAM_TIMEOUT: { status: 504, body: 'the upstream did not answer within the route timeout' },
  WEFT_ERR_UPSTREAM_PER_TRY_TIMEOUT: { status: 504, body: "the upstream did not answer within the retry policy's per-try timeout" },
  WEFT_ERR_OVERLOADED: { status: 503, body: 'circuit breaker open: too many requests to this cluster' },
  WEFT_ERR_APP_UNREACHABLE: { status: 503, body: 'could not connect to the local application' },
  WEFT_ERR_POLICY_DENIED: { status: 403, body: "refused by this node's inbound policy" },
  WEFT_ERR_RATE_LIMITED: { status: 429, body: "over this node's local rate limit; retry after the seconds in retry-after" },
  WEFT_ERR_POLICY_FAILED: { status: 500, body: 'an inbound policy check failed; the request was refused (fail closed)' },
  WEFT_ERR_TCP_LISTENER_AMBIGUOUS: { status: 400, body: 'the node has several TCP listeners and the connection names none' },
  WEFT_ERR_ORIGINAL_DST_UNAVAILABLE: { status: 502, body: "the connection's original destination cannot be read" },
  WEFT_ERR_NOT_CONFIGURED: { status: 503, body: 'this sidecar has no valid config yet' },
  WEFT_ERR_DRAINING: { status: 503, body: 'this sidecar is shutting down' },
  WEFT_ERR_ADMIN_NOT_FOUND: { status: 404, body: 'no such admin endpoint' },
  WEFT_ERR_METHOD_NOT_ALLOWED: { status: 405, body: 'this admin endpoint changes state: use POST' },
  WEFT_ERR_ADMIN_HOST_REFUSED: { status: 403, body: "the Host is neither a loopback name nor the admin server's own address" },
  WEFT_ERR_ADMIN_ORIGIN_REFUSED: { status: 403, body: 'this admin endpoint changes state and refuses requests from web pages (with Origin, or a Sec-Fetch-Site other than none or same-origin)' },
} as const;

export type WeftErrorCode = keyof typeof WEFT_ERRORS;

/** A failure with a stable code, for errors raised while starting or configuring the sidecar. */
export class WeftError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'WeftError';
    this.code = code;
  }
}

// Bodies are encoded once: error responses can be frequent (overload, DROP_ALL) and must stay cheap.
const BODIES = new Map<WeftErrorCode, Buffer>(
  (Object.keys(WEFT_ERRORS) as WeftErrorCode[]).map((code) => [code, Buffer.from(`${code}: ${WEFT_ERRORS[code].body}\n`)]),
);

/** The raw bytes of an error response, for sockets that no HTTP server owns (CONNECT, clientError). */
export function rawErrorResponse(code: WeftErrorCode, extra = ''): string {
  const { status, body } = WEFT_ERRORS[code];
  const text = `${code}: ${body}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${CONTROL_HEADERS.errorCode}: ${code}\r\n${extra}` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  508: 'Loop Detected',
};

/**
 * Answers with a sidecar-generated error. Does nothing more than destroy the response when its
 * headers are already out (the client then sees a truncated response, which is the honest signal).
 */
export function sendError(res: ServerResponse, code: WeftErrorCode, close = false, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = BODIES.get(code)!;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    [CONTROL_HEADERS.errorCode]: code,
    ...extraHeaders,
  };
  if (close) headers.connection = 'close';
  res.writeHead(WEFT_ERRORS[code].status, headers);
  res.end(body);
}
