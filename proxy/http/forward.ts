/**
 * One proxied exchange: dispatches a request to an undici dispatcher and streams the response
 * back, with backpressure both ways and no buffering. It implements undici's native handler
 * callbacks (`onConnect`/`onHeaders`/`onData`/`onComplete`/`onError`), which undici calls
 * without wrapping; the controller-style API would add an adapter object per request.
 *
 * This is the "router" end of the pipeline: it owns the per-request timeout and turns upstream
 * failures into coded responses. Retries wrap it in a later issue (an exchange is one attempt).
 *
 * Either side may be HTTP/1.1 or HTTP/2: the downstream response is Node's HTTP/1.1 response or
 * its HTTP/2 compatibility response, the upstream an {@link H1Upstream} or an {@link H2Upstream}.
 * Trailers cross in both directions of protocol; a gRPC trailers-only response stays one
 * HEADERS frame on HTTP/2. An upgrade request (WebSocket) that the upstream answers with 101
 * becomes a byte tunnel between the two sockets.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeaderOps } from '../contracts';
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import type { Endpoint } from '../routing/types';
import { applyResponseHeaderOps } from '../routing/header-ops';
import type { WeftErrorCode } from '../errors';
import { countResponse, type TrafficStats } from '../stats';
import { parseGrpcStatus } from './grpc';
import { downstreamResponseHeaders, forwardableTrailers, headerObject, upgradeResponseHead, type OutgoingHeaders } from './headers';
import { upgradeHeadOf } from './listener';
import { H1Request } from '../h1/server-connection';
import { isH2Response, retract, sendProxyError } from './respond';

/** Where an exchange can be sent: an HTTP/1.1 or HTTP/2 upstream (undici's dispatch contract). */
export interface ExchangeTarget {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
}

export interface ExchangeOptions {
  /** The listener's counters. */
  traffic: TrafficStats;
  cluster: ClusterRuntime | undefined;
  endpoint: Endpoint | undefined;
  /** Route header rules applied to the response. */
  responseOps: HeaderOps | undefined;
  /** Drop `x-weft-*` from the upstream's response (it is not a sidecar). */
  stripResponseControl: boolean;
  /** Code for "could not reach the upstream". */
  connectErrorCode: WeftErrorCode;
  /** Whole-exchange deadline; 0 is none. */
  timeoutMs: number;
  /** Deadline for the response head (a destination outside the mesh); 0 is none. */
  responseTimeoutMs?: number;
  /** Request body limit for bodies without Content-Length; 0 is none. */
  maxBodyBytes: number;
  /** Called when the listener is draining: the response closes its connection. */
  draining: () => boolean;
  /** Idle limit of an upgraded (WebSocket) tunnel; 0 is none. */
  tunnelIdleMs?: number;
}

class ExchangeTimeout extends Error {
  readonly code = 'WEFT_ERR_UPSTREAM_TIMEOUT';
}
class BodyTooLarge extends Error {
  readonly code = 'WEFT_ERR_REQUEST_BODY_TOO_LARGE';
}
class ClientGone extends Error {
  readonly code = 'WEFT_CLIENT_GONE';
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|WEFT_ERR_PEER_IDENTITY)/;

export class Exchange implements Dispatcher.DispatchHandler {
  private abortFn: ((err?: Error) => void) | undefined;
  private pendingAbort: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private connected = false;
  private finished = false;
  private status = 0;
  private bodyBytes = 0;
  private grpcStatus_: number | undefined;
  /** The response already ended with its headers (trailers-only). */
  private headersEnded = false;
  private readonly h2: boolean;
  /** undici's resume, hooked to 'drain' only once a write has been refused (rare for small bodies). */
  private resume: (() => void) | undefined;
  private drainHooked = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly opts: ExchangeOptions,
  ) {
    this.h2 = isH2Response(res);
  }

  /** The response's `grpc-status` (from its trailers, or its headers when trailers-only), once known. */
  get grpcStatus(): number | undefined {
    return this.grpcStatus_;
  }

  /** Sends the request; the response (or a coded error) is written to `res`. */
  start(dispatcher: ExchangeTarget, path: string, headers: OutgoingHeaders): void {
    const { req, opts } = this;
    opts.traffic.active++;
    if (opts.cluster && opts.endpoint) opts.cluster.begin(opts.endpoint);
    this.res.on('close', this.onClientClose);
    if (opts.timeoutMs > 0) this.timer = setTimeout(() => this.abort(new ExchangeTimeout()), opts.timeoutMs);
    if (opts.responseTimeoutMs) this.headTimer = setTimeout(() => this.abort(new ExchangeTimeout()), opts.responseTimeoutMs);
    const body = requestBody(req);
    if (body !== null && opts.maxBodyBytes > 0 && req.headers['content-length'] === undefined) {
      // Paused first: a 'data' listener alone would start the flow before the upstream (which
      // resumes the body when it writes it) is listening, and those bytes would be lost.
      body.pause();
      body.on('data', (chunk: Buffer) => {
        this.bodyBytes += chunk.length;
        if (this.bodyBytes > opts.maxBodyBytes) this.abort(new BodyTooLarge());
      });
    }
    const options: Dispatcher.DispatchOptions = { path, method: req.method as Dispatcher.HttpMethod, headers, body };
    const upgrade = upgradeHeadOf(req) !== undefined ? req.headers.upgrade : undefined;
    if (upgrade !== undefined) options.upgrade = upgrade;
    try {
      dispatcher.dispatch(options, this);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    this.abortFn = abort;
    if (this.pendingAbort) abort(this.pendingAbort);
  }

  /** `endStream`: the upstream's HTTP/2 HEADERS frame ended the response (gRPC trailers-only). */
  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[], resume: () => void, statusText: string, endStream = false): boolean {
    if (this.finished) return false;
    // 1xx: Node's server already answered 100-continue; other interim responses are not relayed.
    if (statusCode < 200) return true;
    this.status = statusCode;
    if (this.headTimer !== undefined) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    }
    const flat = downstreamResponseHeaders(rawHeaders, this.opts.stripResponseControl);
    const res = this.res;
    if (!this.h2) {
      if (this.opts.draining()) res.shouldKeepAlive = false;
      if (this.opts.responseOps) res.writeHead(statusCode, statusText, withOps(flat, this.opts.responseOps));
      else res.writeHead(statusCode, statusText, flat);
      if (endStream) this.grpcStatus_ = grpcStatusIn(flat);
    } else {
      const obj = headerObject(flat);
      if (this.opts.responseOps) applyResponseHeaderOps(this.opts.responseOps, obj);
      if (endStream) {
        this.grpcStatus_ = parseGrpcStatus(obj['grpc-status']);
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
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked && this.resume !== undefined) {
      this.drainHooked = true;
      this.res.on('drain', this.resume);
    }
    return false;
  }

  /** `trailers`: undici's raw list (HTTP/1.1 chunked trailers) or the HTTP/2 upstream's flat list. */
  onComplete(trailers?: (Buffer | string)[] | Record<string, string> | null): void {
    if (this.finished) return;
    if (!this.headersEnded) {
      if (Array.isArray(trailers) && trailers.length > 0) {
        const kept = forwardableTrailers(trailers.map(String), this.opts.stripResponseControl);
        const obj: Record<string, string> = {};
        for (let i = 0; i < kept.length; i += 2) obj[kept[i]] = kept[i + 1];
        this.grpcStatus_ = parseGrpcStatus(obj['grpc-status']);
        this.res.addTrailers(obj);
      }
      this.res.end();
    }
    this.finish();
  }

  /** The upstream answered an upgrade with 101: relay the head, then join the two sockets. */
  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    if (this.finished) {
      upstream.destroy();
      return;
    }
    const client = this.req.socket as Socket;
    const head = upgradeHeadOf(this.req) ?? Buffer.alloc(0);
    this.status = statusCode;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // The response object only framed errors; from here the client socket is a raw tunnel, and
    // the exchange stays in flight (drain waits for it) until either side closes.
    this.finished = true;
    this.res.detachSocket(client);
    client.write(upgradeResponseHead(statusCode, (rawHeaders ?? []) as (Buffer | string)[], this.opts.stripResponseControl));
    if (head.length > 0) upstream.write(head);
    const idle = this.opts.tunnelIdleMs ?? 0;
    if (idle > 0) {
      client.setTimeout(idle, () => client.destroy());
      (upstream as Socket).setTimeout?.(idle, () => upstream.destroy());
    }
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.once('close', () => {
      upstream.destroy();
      this.account();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  onError(err: Error): void {
    if (this.finished) return;
    const code = (err as { code?: string }).code ?? '';
    const { cluster } = this.opts;
    let weft: WeftErrorCode;
    if (err instanceof ClientGone) {
      this.finish();
      return;
    } else if (err instanceof ExchangeTimeout) {
      weft = 'WEFT_ERR_UPSTREAM_TIMEOUT';
      if (cluster) cluster.stats.timeouts++;
    } else if (err instanceof BodyTooLarge) {
      weft = 'WEFT_ERR_REQUEST_BODY_TOO_LARGE';
    } else if (TLS_ERROR.test(code)) {
      weft = 'WEFT_ERR_UPSTREAM_TLS';
      if (cluster) cluster.stats.connectFailures++;
    } else if (!this.connected || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ECONNREFUSED') {
      weft = this.opts.connectErrorCode;
      if (cluster) cluster.stats.connectFailures++;
    } else {
      weft = 'WEFT_ERR_UPSTREAM_RESET';
    }
    // A head that has not left yet (it waits for the first body bytes) can still become the
    // error; once bytes have left, the client can only be told by a cut connection or stream.
    if (this.res.headersSent && !retract(this.res)) {
      this.res.destroy();
      this.finish();
      return;
    }
    // A body left half-read desynchronises the connection: close it with the error.
    const close = weft === 'WEFT_ERR_REQUEST_BODY_TOO_LARGE' || !this.req.complete || this.opts.draining();
    sendProxyError(this.res, weft, close);
    this.status = this.res.statusCode;
    this.finish();
  }

  /** 'close' of the response: it fires once, so a plain listener does (no `once` wrapper per request). */
  private readonly onClientClose = (): void => {
    if (!this.finished) this.abort(new ClientGone());
  };

  private abort(err: Error): void {
    if (this.finished) return;
    if (this.abortFn) this.abortFn(err);
    else {
      // Not on a connection yet (queued in the pool): answer now, cancel when undici connects.
      this.pendingAbort = err;
      this.onError(err);
    }
  }

  private finish(): void {
    this.finished = true;
    this.account();
  }

  private account(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.headTimer) clearTimeout(this.headTimer);
    const { traffic, cluster, endpoint } = this.opts;
    traffic.active--;
    if (this.status) countResponse(traffic, this.status);
    if (cluster && endpoint) {
      cluster.end(endpoint);
      if (this.status) countResponse(cluster.stats, this.status);
    }
  }
}

/**
 * The request's body stream, or null when it has none: an HTTP/1.1 request carries its body
 * separately; an HTTP/2 request is its own body stream, and its HEADERS frame says whether one follows.
 */
export function requestBody(req: IncomingMessage): Readable | null {
  if ((req as unknown) instanceof H1Request) return (req as unknown as H1Request).body;
  return (req as unknown as Http2ServerRequest).stream?.endAfterHeaders === false ? req : null;
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
