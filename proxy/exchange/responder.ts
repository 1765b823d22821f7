/**
 * Writes the client's response exactly once, however the request ends, and produces its one
 * completion record: an answer relayed from upstream (streamed with backpressure both ways,
 * trailers and gRPC trailers-only kept, an upgrade turned into a tunnel), a sidecar error, a
 * redirect or a policy refusal. It is the top of the stack: response events from the route's
 * layers arrive here; it owns the request's deadline and notices when the client leaves.
 *
 * Either side may be HTTP/1.1 or HTTP/2: the response is Weft's HTTP/1.1 response or Node's
 * HTTP/2 compatibility response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { joinStreams } from '../cluster/tunnel';
import type { FailureKind } from '../cluster/upstream-errors';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import type { HeaderOps } from '../contracts';
import type { WeftErrorCode } from '../errors';
import { grpcStatusForHttp, isGrpcRequest, parseGrpcStatus } from '../message/grpc';
import { downstreamResponseHeaders, forwardableTrailers, headerObject, peerAddress, upgradeResponseHead } from '../message/headers';
import { applyResponseHeaderOps } from '../routing/header-ops';
import { countResponse, type SidecarStats, type TrafficStats } from '../stats';
import { peerOf } from '../tls/peer-identity';
import { CompletionRecord, RESPONSE_FLAGS, type ListenerKind, type RecordSink } from './record';
import { isH2Response, retract, sendGrpcStatus, sendProxyError, upgradeHeadOf } from './respond';
import type { Dispatch, ProxyRequest, ResponseHandler } from './stack';

/** What a responder needs from the sidecar. */
export interface ResponderContext {
  readonly stats: SidecarStats;
  /** Where completion records go. */
  readonly complete: RecordSink;
  /** True once shutdown began: responses close their connections. */
  draining(): boolean;
}

/** A refusal by policy (authorization, JWT, rate limits) instead of forwarding. */
export interface Refusal {
  status: number;
  code: string;
  /** Response flag for the record (RESPONSE_FLAGS.policyDenied when absent). */
  flag?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The gRPC status for gRPC requests (when absent, the one gRPC maps `status` to). */
  grpcStatus?: number;
}

export interface ForwardOptions {
  /** The request's deadline across all attempts; 0 is none. */
  timeoutMs: number;
  /** Deadline for the response head (destinations outside the mesh); 0 is none. */
  responseTimeoutMs: number;
  /** Route header rules applied to the response. */
  responseOps: HeaderOps | undefined;
  /** Drop `x-weft-*` from the response: the upstream is not a sidecar of the mesh over mTLS. */
  stripControl: boolean;
  /** Code for "could not reach the upstream". */
  connectErrorCode: WeftErrorCode;
  /** Idle limit of an upgraded (WebSocket) tunnel; 0 is none. */
  tunnelIdleMs: number;
  /** Request body limit for bodies without Content-Length; 0 is none. */
  maxBodyBytes: number;
}

/** How a failure kind is answered and recorded. */
const FAILURES: Record<Exclude<FailureKind, 'client-gone'>, { code: WeftErrorCode | 'connect'; flag: string | undefined }> = {
  connect: { code: 'connect', flag: RESPONSE_FLAGS.upstreamConnectFailure },
  tls: { code: 'WEFT_ERR_UPSTREAM_TLS', flag: RESPONSE_FLAGS.upstreamConnectFailure },
  reset: { code: 'WEFT_ERR_UPSTREAM_RESET', flag: RESPONSE_FLAGS.upstreamTerminated },
  protocol: { code: 'WEFT_ERR_UPSTREAM_RESET', flag: RESPONSE_FLAGS.upstreamProtocolError },
  timeout: { code: 'WEFT_ERR_UPSTREAM_TIMEOUT', flag: RESPONSE_FLAGS.upstreamTimeout },
  'try-timeout': { code: 'WEFT_ERR_UPSTREAM_PER_TRY_TIMEOUT', flag: RESPONSE_FLAGS.upstreamTimeout },
  overflow: { code: 'WEFT_ERR_OVERLOADED', flag: RESPONSE_FLAGS.overflow },
  'no-endpoint': { code: 'WEFT_ERR_NO_HEALTHY_UPSTREAM', flag: RESPONSE_FLAGS.noHealthyUpstream },
  'body-too-large': { code: 'WEFT_ERR_REQUEST_BODY_TOO_LARGE', flag: undefined },
};

/** Envoy's `x-envoy-attempt-count`, on responses of routes that retry. */
const ATTEMPT_COUNT_HEADER = `${CONTROL_HEADERS.prefix}attempt-count`;

const OVERLOADED_HEADERS = { [CONTROL_HEADERS.overloaded]: 'true' };

export class Responder implements ResponseHandler {
  readonly record: CompletionRecord;
  private readonly traffic: TrafficStats;
  private readonly h2: boolean;
  private opts: ForwardOptions | undefined;
  private request: ProxyRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private finished = false;
  /** The response ended with its headers (gRPC trailers-only on HTTP/2). */
  private headersEnded = false;
  /** The upstream's resume, hooked to 'drain' once a write has been refused (rare for small bodies). */
  private resume: (() => void) | undefined;
  private drainHooked = false;
  private bodyBytes = 0;

  constructor(
    private readonly ctx: ResponderContext,
    listener: ListenerKind,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.h2 = isH2Response(res);
    const record = new CompletionRecord('http', listener, peerAddress(req.socket.remoteAddress), peerOf(req));
    record.method = req.method ?? '';
    record.path = req.url ?? '';
    record.authority = req.headers.host ?? '';
    record.protocol = this.h2 ? 'HTTP/2' : req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    record.headers = req.headers;
    this.record = record;
    const traffic = (this.traffic = ctx.stats[listener]);
    traffic.requests++;
    traffic.active++;
  }

  /** Answers with a sidecar error (a gRPC status to gRPC requests). */
  error(code: WeftErrorCode, flag?: string, close = false, headers?: Record<string, string>): void {
    if (this.finished) return;
    if (flag !== undefined) this.record.flag(flag);
    this.record.errorCode = code;
    sendProxyError(this.res, code, close, headers);
    this.finish(this.res.statusCode);
  }

  /** Answers a redirect decision. */
  redirect(status: number, location: string): void {
    if (this.finished) return;
    this.res.writeHead(status, { location, 'content-length': 0 });
    this.res.end();
    this.finish(status);
  }

  /** Answers locally with a short text body (the inbound health-check answer). */
  reply(status: number, body: string): void {
    if (this.finished) return;
    this.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    this.res.end(this.req.method === 'HEAD' ? undefined : body);
    this.finish(status);
  }

  /** Answers a policy refusal. */
  refuse(v: Refusal): void {
    if (this.finished) return;
    this.record.flag(v.flag ?? RESPONSE_FLAGS.policyDenied);
    this.record.errorCode = v.code;
    if (isGrpcRequest(this.req.headers)) {
      sendGrpcStatus(this.res, v.grpcStatus ?? grpcStatusForHttp(v.status), v.body ?? v.code, { ...v.headers, [CONTROL_HEADERS.errorCode]: v.code });
      this.finish(200);
      return;
    }
    const body = v.body ?? `${v.code}\n`;
    this.res.writeHead(v.status, { ...v.headers, [CONTROL_HEADERS.errorCode]: v.code, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    this.res.end(body);
    this.finish(v.status);
  }

  /** Sends `request` down `dispatch` (a route's stack); the answer, or a coded error, comes back here. */
  forward(dispatch: Dispatch, request: ProxyRequest, opts: ForwardOptions): void {
    this.opts = opts;
    this.request = request;
    this.res.on('close', this.onClientClose);
    if (opts.timeoutMs > 0) this.timer = setTimeout(this.onTimeout, opts.timeoutMs);
    if (opts.responseTimeoutMs > 0) this.headTimer = setTimeout(this.onTimeout, opts.responseTimeoutMs);
    const body = request.body;
    if (body !== null) {
      const limit = opts.maxBodyBytes > 0 && this.req.headers['content-length'] === undefined ? opts.maxBodyBytes : 0;
      // Paused first: a 'data' listener alone would start the flow before the upstream (which
      // resumes the body when it writes it) is listening, and those bytes would be lost.
      body.pause();
      body.on('data', (chunk: Buffer) => {
        this.record.bytesReceived += chunk.length;
        if (limit > 0 && this.record.bytesReceived > limit) this.request?.cancel?.('body-too-large');
      });
    }
    dispatch(request, this);
  }

  // --- Response events from the stack ---

  /** `endStream`: the upstream's HTTP/2 HEADERS frame ended the response (gRPC trailers-only). */
  onHeaders(statusCode: number, raw: readonly (Buffer | string)[], resume: () => void, statusText: string, endStream: boolean): boolean {
    if (this.finished) return false;
    const opts = this.opts!;
    if (this.headTimer !== undefined) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    }
    this.record.status = statusCode;
    const flat = downstreamResponseHeaders(raw, opts.stripControl);
    if (this.request?.reportAttempts === true) flat.push(ATTEMPT_COUNT_HEADER, String(this.record.attempts));
    const res = this.res;
    if (!this.h2) {
      if (this.ctx.draining()) res.shouldKeepAlive = false;
      if (opts.responseOps) res.writeHead(statusCode, statusText, withOps(flat, opts.responseOps));
      else res.writeHead(statusCode, statusText, flat);
      if (endStream) this.record.grpcStatus = grpcStatusIn(flat);
    } else {
      const obj = headerObject(flat);
      if (opts.responseOps) applyResponseHeaderOps(opts.responseOps, obj);
      if (endStream) {
        this.record.grpcStatus = parseGrpcStatus(obj['grpc-status']);
        // One HEADERS frame with END_STREAM, as the upstream sent it: gRPC reads it as the status.
        const stream = (res as unknown as Http2ServerResponse).stream;
        obj[':status'] = String(statusCode);
        if (!stream.destroyed) stream.respond(obj as Record<string, string | string[]>, { endStream: true });
        this.headersEnded = true;
        return true;
      }
      res.writeHead(statusCode, obj as Record<string, string | string[]>);
    }
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bodyBytes += chunk.length;
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked && this.resume !== undefined) {
      this.drainHooked = true;
      this.res.on('drain', this.resume);
    }
    return false;
  }

  onComplete(trailers: readonly (Buffer | string)[] | null): void {
    if (this.finished) return;
    if (!this.headersEnded) {
      if (trailers !== null && trailers.length > 0) {
        const kept = forwardableTrailers(trailers.map(String), this.opts!.stripControl);
        const obj: Record<string, string> = {};
        for (let i = 0; i < kept.length; i += 2) obj[kept[i]] = kept[i + 1];
        this.record.grpcStatus = parseGrpcStatus(obj['grpc-status']);
        this.res.addTrailers(obj);
      }
      this.res.end();
    }
    this.finish(this.record.status);
  }

  /** The upstream answered an upgrade with 101: relay the head, then join the two sockets. */
  onUpgrade(statusCode: number, raw: readonly (Buffer | string)[], upstream: Duplex, done: () => void): void {
    if (this.finished) {
      upstream.destroy();
      done();
      return;
    }
    const client = this.req.socket as Socket;
    const head = upgradeHeadOf(this.req) ?? Buffer.alloc(0);
    this.clearTimers();
    this.record.status = statusCode;
    // The response object only framed errors; from here the client socket is a raw tunnel, and
    // the request stays in flight (drain waits for it) until either side closes.
    this.res.detachSocket(client);
    client.write(upgradeResponseHead(statusCode, raw, this.opts!.stripControl));
    joinStreams(client, upstream, head, this.opts!.tunnelIdleMs, (bytes) => {
      this.record.bytesReceived += bytes.sent;
      this.bodyBytes += bytes.received;
      done();
      this.finish(statusCode);
    });
  }

  onError(kind: FailureKind): void {
    if (this.finished) return;
    const record = this.record;
    if (kind === 'client-gone') {
      record.flag(RESPONSE_FLAGS.downstreamTerminated);
      this.finish(0);
      return;
    }
    const { code: c, flag } = FAILURES[kind];
    const code = c === 'connect' ? this.opts!.connectErrorCode : c;
    if (flag !== undefined) record.flag(flag);
    record.errorCode = code;
    // A head that has not left yet (it waits for the first body bytes) can still become the
    // error; once bytes have left, the client can only be told by a cut connection or stream.
    if (this.res.headersSent && !retract(this.res)) {
      this.res.destroy();
      this.finish(0);
      return;
    }
    // A body left half-read desynchronises the connection: close it with the error.
    const close = kind === 'body-too-large' || !this.req.complete || this.ctx.draining();
    sendProxyError(this.res, code, close, kind === 'overflow' ? OVERLOADED_HEADERS : undefined);
    this.finish(this.res.statusCode);
  }

  private readonly onTimeout = (): void => {
    if (this.finished) return;
    const cancel = this.request?.cancel;
    if (cancel !== undefined) cancel('timeout');
    else this.onError('timeout');
  };

  /** 'close' of the response: it fires once, so a plain listener does (no `once` wrapper per request). */
  private readonly onClientClose = (): void => {
    if (this.finished) return;
    const cancel = this.request?.cancel;
    if (cancel !== undefined) cancel('client-gone');
    else this.onError('client-gone');
  };

  private clearTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.headTimer !== undefined) clearTimeout(this.headTimer);
    this.timer = this.headTimer = undefined;
  }

  /** The one end of every request: counters, then the record to its sink. */
  private finish(status: number): void {
    this.finished = true;
    this.clearTimers();
    const record = this.record;
    record.status = status;
    record.bytesSent = this.bodyBytes;
    record.durationMs = performance.now() - record.start;
    const traffic = this.traffic;
    traffic.active--;
    if (status !== 0) countResponse(traffic, status);
    this.ctx.complete(record);
  }
}

/** Route response rules work on a header object; only routes that have rules pay for it. */
function withOps(flat: string[], ops: HeaderOps): Record<string, string | string[]> {
  const obj = headerObject(flat);
  applyResponseHeaderOps(ops, obj);
  return obj as Record<string, string | string[]>;
}

function grpcStatusIn(flat: string[]): number | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'grpc-status') return parseGrpcStatus(flat[i + 1]);
  return undefined;
}
