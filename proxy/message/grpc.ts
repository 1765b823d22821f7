/**
 * gRPC over HTTP/2 as the sidecar sees it: which requests are gRPC, which gRPC status a
 * sidecar-generated error becomes (Envoy's HTTP-to-gRPC mapping, refined per Weft error code),
 * and the `grpc-timeout` header (gRPC's deadline, which bounds the route timeout).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WeftErrorCode } from '../errors';

/** gRPC status codes the sidecar itself answers with. */
export const GRPC_STATUS = {
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const BY_CODE: Partial<Record<WeftErrorCode, number>> = {
  WEFT_ERR_NO_ROUTE: GRPC_STATUS.UNIMPLEMENTED,
  WEFT_ERR_GATEWAY_NO_ROUTE: GRPC_STATUS.UNIMPLEMENTED,
  WEFT_ERR_UPSTREAM_TIMEOUT: GRPC_STATUS.DEADLINE_EXCEEDED,
  WEFT_ERR_REQUEST_HEADERS_TIMEOUT: GRPC_STATUS.DEADLINE_EXCEEDED,
  WEFT_ERR_REQUEST_BODY_TIMEOUT: GRPC_STATUS.DEADLINE_EXCEEDED,
  WEFT_ERR_EGRESS_DENIED: GRPC_STATUS.PERMISSION_DENIED,
  WEFT_ERR_REQUEST_BODY_TOO_LARGE: GRPC_STATUS.RESOURCE_EXHAUSTED,
  WEFT_ERR_REQUEST_HEADERS_TOO_LARGE: GRPC_STATUS.RESOURCE_EXHAUSTED,
  WEFT_ERR_NO_HEALTHY_UPSTREAM: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_UPSTREAM_CONNECT: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_UPSTREAM_TLS: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_UPSTREAM_RESET: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_OVERLOADED: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_APP_UNREACHABLE: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_NOT_CONFIGURED: GRPC_STATUS.UNAVAILABLE,
  WEFT_ERR_DRAINING: GRPC_STATUS.UNAVAILABLE,
};

/** The gRPC status for a sidecar error code (INTERNAL for malformed requests and config faults). */
export function grpcStatusFor(code: WeftErrorCode): number {
  return BY_CODE[code] ?? GRPC_STATUS.INTERNAL;
}

/** The gRPC status for an HTTP status a filter refused with (the gRPC HTTP-to-status mapping). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GRPC_STATUS.INTERNAL;
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return 2; // UNKNOWN
  }
}

/** True for gRPC requests (content-type `application/grpc`, `application/grpc+proto`, ...). */
export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  return ct !== undefined && ct.startsWith('application/grpc') && (ct.length === 16 || ct.charCodeAt(16) === 43 /* + */ || ct.charCodeAt(16) === 59 /* ; */);
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The deadline a `grpc-timeout` value asks for, in whole milliseconds (at least 1), or undefined
 * when absent or malformed (a malformed value is ignored, as gRPC servers do).
 */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  return Math.max(1, Math.ceil(Number(m[1]) * UNIT_MS[m[2]]));
}

/** The route timeout bounded by the client's gRPC deadline (0 means none). */
export function boundedTimeout(routeMs: number, headers: IncomingHttpHeaders): number {
  const grpc = grpcTimeoutMs(headers['grpc-timeout']);
  if (grpc === undefined) return routeMs;
  return routeMs > 0 ? Math.min(routeMs, grpc) : grpc;
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2 spec): everything outside printable ASCII, and '%'. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Reads a `grpc-status` value; undefined when absent or not a number. */
export function parseGrpcStatus(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : undefined;
}
