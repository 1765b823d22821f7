/**
 * The downstream side's adapters: the request body and upgrade bytes whichever protocol carried
 * the request, and the responses the sidecar writes itself, on any downstream protocol: HTTP/1.1, HTTP/2 (where
 * connection-specific fields such as `connection: close` are illegal), and gRPC, where an error
 * is an HTTP 200 trailers-only response carrying `grpc-status` and `grpc-message`, so gRPC
 * clients see a status instead of a protocol error. Every one carries `x-weft-error`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import { sendError, WEFT_ERRORS, type WeftErrorCode } from '../errors';
import { H1Request } from '../h1/server-connection';
import { encodeGrpcMessage, grpcStatusFor, isGrpcRequest } from '../message/grpc';

const kRequest = Symbol('weft.request');

/**
 * The request's body stream, or null when it has none: an HTTP/1.1 request carries its body
 * separately; an HTTP/2 request is its own body stream, and its HEADERS frame says whether one follows.
 */
export function requestBody(req: IncomingMessage): Readable | null {
  if ((req as unknown) instanceof H1Request) return (req as unknown as H1Request).body;
  return (req as unknown as Http2ServerRequest).stream?.endAfterHeaders === false ? req : null;
}

/** For an upgrade request (WebSocket...), the bytes the client sent after the request head; undefined for every other request. */
export function upgradeHeadOf(req: IncomingMessage): Buffer | undefined {
  return (req as unknown as Partial<H1Request>).upgradeHead;
}

/** Links an HTTP/2 compatibility response to its request (HTTP/1.1 responses know theirs). */
export function linkRequest(req: Http2ServerRequest, res: Http2ServerResponse): void {
  (res as Http2ServerResponse & { [kRequest]?: Http2ServerRequest })[kRequest] = req;
}

/** The request a response answers. */
export function requestOf(res: ServerResponse): IncomingMessage | undefined {
  return (res as ServerResponse & { [kRequest]?: IncomingMessage }).req ?? (res as ServerResponse & { [kRequest]?: IncomingMessage })[kRequest];
}

/** True when `res` is an HTTP/2 stream's response (seen through Node's compatibility API). */
export function isH2Response(res: ServerResponse): boolean {
  return (res as unknown) instanceof Http2ServerResponse;
}

/**
 * Takes back a response head that has not left yet, so an error can be written instead; false
 * when bytes of the response are already out (always on HTTP/2, whose HEADERS leave at once).
 */
export function retract(res: ServerResponse): boolean {
  const r = res as ServerResponse & { retract?: () => boolean };
  return r.retract !== undefined && r.retract();
}

/**
 * Answers with a sidecar error: a gRPC status for gRPC requests, the plain-text error otherwise.
 * `close` asks HTTP/1.1 to close the connection (HTTP/2 streams need no such thing).
 */
export function sendProxyError(res: ServerResponse, code: WeftErrorCode, close = false, extraHeaders?: Record<string, string>): void {
  const req = requestOf(res);
  if (req !== undefined && isGrpcRequest(req.headers)) {
    sendGrpcStatus(res, grpcStatusFor(code), `${code}: ${WEFT_ERRORS[code].body}`, { [CONTROL_HEADERS.errorCode]: code, ...extraHeaders });
    return;
  }
  sendError(res, code, close && !isH2Response(res), extraHeaders);
}

/**
 * A gRPC status as a trailers-only response (one HEADERS frame ending the stream on HTTP/2).
 * HTTP status 200, as gRPC requires for every status it carries.
 */
export function sendGrpcStatus(res: ServerResponse, status: number, message: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {
    'content-type': 'application/grpc',
    'grpc-status': String(status),
    'grpc-message': encodeGrpcMessage(message),
    ...extraHeaders,
  };
  if (isH2Response(res)) {
    const stream = (res as unknown as Http2ServerResponse).stream;
    if (stream.destroyed || stream.closed) return;
    headers[':status'] = '200';
    stream.respond(headers, { endStream: true });
    return;
  }
  headers['content-length'] = '0';
  res.writeHead(200, headers);
  res.end();
}
