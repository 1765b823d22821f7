/**
 * The server end of an HTTP/1.1 connection, on the raw socket and Weft's strict parser instead of
 * node:http. It yields requests and responses that the pipeline uses as Node's
 * `IncomingMessage`/`ServerResponse` (the members it touches are listed on {@link H1Request} and
 * {@link H1Response}), so the listeners serve HTTP/1.1 and HTTP/2 through one handler.
 *
 * Why not node:http: on the benchmark's one-hop path its server machinery (a stream per request
 * and per response, a timer refresh per socket read and write, async-hooks resources) cost about
 * a quarter of the sidecar's CPU per request (docs/decisions/0001-own-http1-engine.md).
 *
 * One request at a time: bytes a client pipelines behind a request wait (the socket paused) until
 * its response is finished. Timeouts are deadlines checked by the owner's sweep
 * ({@link H1Connection.checkDeadline}), so a request costs no timer: a head must complete within
 * `headersTimeoutMs` of its first byte, and a kept-alive connection may idle `keepAliveTimeoutMs`.
 */
import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { rawErrorResponse, type WeftErrorCode } from '../errors';
import { ChunkedDecoder, chunkHeader, lastChunk, type ChunkSink } from './chunked';
import { isSafeFieldText } from './field-text';
import { HeadScan, isHeadFailure, parseRequestHead, type RequestHead } from './head-parser';

/** Counters every connection of a listener adds to. */
export interface H1Counters {
  /** Request heads parsed. */
  heads: number;
  /** Bytes the head parser examined (see {@link HeadScan}): about the bytes of the heads, however they were split. */
  headBytesScanned: number;
}

export interface H1ServerOptions {
  maxHeaderBytes: number;
  maxHeaders: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  counters: H1Counters;
  /** An ordinary request (also an upgrade request; `upgradeHead` is then set). */
  onRequest(req: H1Request, res: H1Response): void;
  /** A CONNECT request: the socket is handed over with the bytes read after its head. */
  onConnect: ((req: H1Request, socket: Socket, head: Buffer) => void) | undefined;
  /** A request refused before the handler saw it (counted and recorded by the owner). */
  onClientError(code: WeftErrorCode, socket: Socket): void;
  /**
   * Handling this connection threw: the connection is destroyed, alone, and the owner counts and
   * logs the error. A bug reached by one peer's bytes must not end the process for every peer.
   */
  onInternalError(err: unknown): void;
  /** True once shutdown began: connections close after their current response. */
  draining(): boolean;
  /** The connection is over for HTTP (closed, or its socket handed over). */
  onClose(conn: H1Connection): void;
}

/** Idle time a sidecar allows between the requests of a kept-alive HTTP/1.1 connection. */
export const SERVER_KEEP_ALIVE_MS = 60_000;

const TRAILER_LIMITS = { maxTrailerBytes: 16 * 1024, maxTrailers: 64 };
const EMPTY = Buffer.alloc(0);
/** Time a request body has to arrive completely (node:http's requestTimeout default). */
const REQUEST_BODY_TIMEOUT_MS = 300_000;
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CRLF = '\r\n';

/** Where a connection is between requests. */
const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** Receiving the request body. */
  Body,
  /** Request fully read; its response is being written. */
  Responding,
  /** The socket belongs to someone else now (CONNECT, upgrade) or is closed. */
  Gone,
}

let cachedDate = '';
let cachedDateAt = 0;
/** RFC 9110 §6.6.1: responses carry Date; formatting it once a second is enough. */
function httpDate(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1_000) {
    cachedDateAt = now - (now % 1_000);
    cachedDate = new Date(cachedDateAt).toUTCString();
  }
  return cachedDate;
}

/**
 * A request as the pipeline sees it: the `IncomingMessage` members it reads (method, url, headers,
 * rawHeaders, socket, complete, httpVersion*) plus its body stream, present only when the request
 * has a body (see `requestBody` in proxy/http/message.ts).
 */
export class H1Request {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  /** The body; null for a request without one. */
  readonly body: H1Body | null;
  /** True once the whole request (head and body) arrived. */
  complete: boolean;
  /** Bytes after the head of an upgrade request (WebSocket); undefined otherwise. */
  upgradeHead: Buffer | undefined;

  constructor(
    head: RequestHead,
    readonly socket: Socket,
    body: H1Body | null,
  ) {
    this.method = head.method;
    this.url = head.target;
    this.headers = head.headers as IncomingHttpHeaders;
    this.rawHeaders = head.rawHeaders;
    this.httpVersionMinor = head.versionMinor;
    this.httpVersion = head.versionMinor === 1 ? '1.1' : '1.0';
    this.body = body;
    this.complete = body === null;
  }
}

/** A request body: a Readable fed by the connection, with the socket paused while it is full. */
export class H1Body extends Readable {
  /** Chunked trailers, as `IncomingMessage.trailers` has them, once the body ended. */
  trailers: Record<string, string> = {};

  constructor(private readonly conn: H1Connection) {
    super();
  }

  override _read(): void {
    this.conn.resumeBody();
  }
}

/**
 * A response as the pipeline writes it: `writeHead`, `write`, `end`, `addTrailers`, `headersSent`,
 * `statusCode`, `shouldKeepAlive`, `destroy`, `detachSocket`, and the 'drain', 'finish' and
 * 'close' events of Node's `ServerResponse`. The head is held until the first body bytes or the
 * end, so that a small response leaves in one write.
 */
export class H1Response extends EventEmitter {
  statusCode = 200;
  shouldKeepAlive: boolean;
  headersSent = false;
  finished = false;
  /** Framing chosen by writeHead: a known length, chunked, until close, or no body at all. */
  private mode: 'length' | 'chunked' | 'close' | 'none' = 'length';
  private pendingHead: string | undefined;
  private trailers: string[] | undefined;
  private readonly noBody: boolean;
  /** Bytes of this response have been handed to the socket. */
  private written = false;

  constructor(
    readonly req: H1Request,
    private readonly conn: H1Connection,
    keepAlive: boolean,
  ) {
    super();
    this.shouldKeepAlive = keepAlive;
    this.noBody = req.method === 'HEAD';
  }

  /** `writeHead(status, headers)` or `writeHead(status, reason, headers)`; headers as an object or a flat list. */
  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders | string[], maybeHeaders?: OutgoingHttpHeaders | string[]): this {
    if (this.headersSent) return this;
    let reason: string | undefined;
    let headers: OutgoingHttpHeaders | string[] | undefined;
    if (typeof reasonOrHeaders === 'string') {
      reason = reasonOrHeaders;
      headers = maybeHeaders;
    } else headers = reasonOrHeaders;
    this.statusCode = status;
    this.headersSent = true;
    let head = `HTTP/1.1 ${status} ${reason || STATUS_CODES[status] || 'Unknown'}\r\n`;
    let length = false;
    let date = false;
    let close = false;
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i];
        const value = headers[i + 1];
        if (unsafe(name) || unsafe(value)) continue;
        head += `${name}: ${value}\r\n`;
        if (name.length === 14 && name === 'content-length') length = true;
        else if (name.length === 4 && name === 'date') date = true;
      }
    } else if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined || unsafe(name)) continue;
        const lower = name.toLowerCase();
        if (lower === 'connection') {
          close = /\bclose\b/i.test(String(value));
          continue;
        }
        if (Array.isArray(value)) {
          for (const v of value) if (!unsafe(v)) head += `${name}: ${v}\r\n`;
        } else {
          const text = String(value);
          if (unsafe(text)) continue;
          head += `${name}: ${text}\r\n`;
        }
        if (lower === 'content-length') length = true;
        else if (lower === 'date') date = true;
      }
    }
    if (!date) head += `date: ${httpDate()}\r\n`;
    if (close || this.conn.mustClose()) this.shouldKeepAlive = false;
    const bodiless = this.noBody || status === 204 || status === 304 || status < 200;
    if (bodiless) this.mode = 'none';
    else if (length) this.mode = 'length';
    else if (this.req.httpVersionMinor === 1) {
      this.mode = 'chunked';
      head += 'transfer-encoding: chunked\r\n';
    } else {
      // An HTTP/1.0 client knows no chunks: the end of the connection ends the body.
      this.mode = 'close';
      this.shouldKeepAlive = false;
    }
    if (!this.shouldKeepAlive) head += 'connection: close\r\n';
    else if (this.req.httpVersionMinor === 0) head += 'connection: keep-alive\r\n';
    this.pendingHead = `${head}\r\n`;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.finished) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.conn.socket;
    this.written = true;
    if (this.mode === 'none' || chunk.length === 0) {
      this.flushHead();
      return !socket.writableNeedDrain;
    }
    const head = this.pendingHead;
    this.pendingHead = undefined;
    if (this.mode === 'chunked') {
      const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      const prefix = head === undefined ? chunkHeader(size) : head + chunkHeader(size);
      return writeFramed(socket, prefix, chunk, CRLF);
    }
    if (head === undefined) return socket.write(chunk);
    return writeFramed(socket, head, chunk, '');
  }

  addTrailers(headers: OutgoingHttpHeaders | Record<string, string>): void {
    const flat: string[] = (this.trailers ??= []);
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined) flat.push(name, String(value));
    }
  }

  end(chunk?: Buffer | string): this {
    if (this.finished) return this;
    if (!this.headersSent) {
      // Node's rule for end(body) without writeHead: the length is the body's.
      const size = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      this.writeHead(this.statusCode, { 'content-length': size });
    }
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    const socket = this.conn.socket;
    this.written = true;
    if (this.mode === 'chunked') {
      const last = lastChunk(this.trailers);
      const head = this.pendingHead;
      this.pendingHead = undefined;
      socket.write(head === undefined ? last : head + last, 'latin1');
    } else this.flushHead();
    this.finished = true;
    this.conn.responseFinished(this);
    this.emit('finish');
    return this;
  }

  /**
   * Takes back a head that has not left yet (it waits for the first body bytes): the response can
   * then be answered anew, e.g. with a 502 when the upstream's body broke before its first byte.
   * False once anything was written.
   */
  retract(): boolean {
    if (this.written || this.finished) return false;
    this.pendingHead = undefined;
    this.headersSent = false;
    this.statusCode = 200;
    this.mode = 'length';
    this.trailers = undefined;
    return true;
  }

  /** The connection failed under this response: later writes are dropped and the exchange is told. */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    this.emit('close');
  }

  /** Closes the connection at once (the client sees a truncated response). */
  destroy(): this {
    this.conn.socket.destroy();
    return this;
  }

  /** The socket leaves HTTP (a 101 turned it into a tunnel): the connection stops reading it. */
  detachSocket(): void {
    this.finished = true;
    this.conn.detach();
  }

  private flushHead(): void {
    const head = this.pendingHead;
    if (head === undefined) return;
    this.pendingHead = undefined;
    this.written = true;
    this.conn.socket.write(head, 'latin1');
  }
}

/** Bodies up to this size leave in one buffer with their framing (a copy is cheaper than a writev). */
const COALESCE_BYTES = 16 * 1024;

/**
 * Writes `prefix` (latin1 framing: a head, a chunk size line), `chunk` and `suffix` as one write:
 * copied into one buffer when the chunk is small, otherwise corked into one writev.
 */
function writeFramed(socket: Socket, prefix: string, chunk: Buffer | string, suffix: string): boolean {
  if (typeof chunk !== 'string' && chunk.length <= COALESCE_BYTES) {
    const buf = Buffer.allocUnsafe(prefix.length + chunk.length + suffix.length);
    buf.write(prefix, 0, 'latin1');
    chunk.copy(buf, prefix.length);
    if (suffix.length > 0) buf.write(suffix, prefix.length + chunk.length, 'latin1');
    return socket.write(buf);
  }
  socket.cork();
  socket.write(prefix, 'latin1');
  let ok = socket.write(chunk);
  if (suffix.length > 0) ok = socket.write(suffix, 'latin1');
  socket.uncork();
  return ok;
}

/** A header name or value that could split the head: it is dropped rather than sent. */
function unsafe(text: string): boolean {
  return !isSafeFieldText(text);
}

/** One HTTP/1.1 client connection. */
export class H1Connection implements ChunkSink {
  private phase = Phase.Head;
  /** Unparsed bytes (a partial head, or bytes pipelined behind the current request). */
  private pending: Buffer | undefined;
  /** When the phase's time runs out (ms since the epoch): keep-alive idleness, then the head's time. */
  private deadline = 0;
  /** The current deadline is the head's (its first byte arrived), not the keep-alive one. */
  private headStarted = false;
  /** The current body is chunked (else it has a Content-Length). */
  private chunkedBody = false;
  private req: H1Request | undefined;
  private res: H1Response | undefined;
  private keepAlive = true;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private bodyPaused = false;
  /** The next request waits until the client has read the responses already written. */
  private awaitingDrain = false;
  /** The head parse resumes here when a head arrives in pieces. */
  private readonly scan = new HeadScan();
  /** The loop in {@link parse} is running: a nested call leaves the work to it. */
  private parsing = false;
  /** `100 Continue` is owed once the body is wanted (the request is being forwarded). */
  private continueOwed = false;
  /** The connection ends after its current response (its TLS was replaced, see {@link retire}). */
  private retired = false;

  constructor(
    readonly socket: Socket,
    private readonly opts: H1ServerOptions,
  ) {
    socket.on('data', this.onSocketData);
    socket.on('drain', this.onDrain);
    socket.on('close', this.onClose);
    // A socket handed over by another reader (a CONNECT tunnel's inner connection) arrives paused.
    socket.resume();
    this.deadline = Date.now() + opts.keepAliveTimeoutMs;
  }

  /** Feeds bytes that were read before this connection took the socket (first-byte classification). */
  start(first: Buffer): void {
    if (first.length > 0) this.onSocketData(first);
  }

  /** True while no request is open: the connection can be closed without cutting a response. */
  get idle(): boolean {
    return this.phase === Phase.Head && this.pending === undefined;
  }

  /**
   * No new requests on this connection: an idle one closes now, a busy one after its current
   * response (which says `connection: close`). Used when the TLS the connection was accepted
   * under is replaced (a certificate or trust bundle rotation).
   */
  retire(): void {
    this.retired = true;
    if (this.idle) this.socket.destroy();
  }

  /** Called by the owner's sweep: enforces the head, body and keep-alive deadlines. */
  checkDeadline(now: number): void {
    if (this.deadline === 0 || now < this.deadline) return;
    if (this.phase === Phase.Body) {
      // A body still trickling in after the request timeout: the exchange is over.
      this.refuse('WEFT_ERR_REQUEST_BODY_TIMEOUT');
      return;
    }
    if (this.phase !== Phase.Head) return;
    if (this.pending !== undefined) this.refuse('WEFT_ERR_REQUEST_HEADERS_TIMEOUT');
    else this.socket.destroy();
  }

  /** The response must close the connection (the request asked, or the sidecar is draining). */
  mustClose(): boolean {
    return !this.keepAlive || this.retired || this.opts.draining();
  }

  /** The body's reader wants more. */
  resumeBody(): void {
    if (this.continueOwed) {
      // RFC 9110 §10.1.1: 100 only for a request that is going ahead; one refused before its
      // body was wanted (413, no route, a policy) is answered without it.
      this.continueOwed = false;
      if (this.res !== undefined && !this.res.headersSent && this.phase === Phase.Body) this.socket.write(CONTINUE, 'latin1');
    }
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.socket.resume();
    }
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    try {
      switch (this.phase) {
        case Phase.Head:
          this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
          this.parse();
          return;
        case Phase.Body: {
          const end = this.feedBody(chunk, 0);
          if (end >= 0 && end < chunk.length) this.hold(chunk.subarray(end));
          return;
        }
        case Phase.Responding:
          // Pipelined: kept until the current response is done.
          this.hold(chunk);
          return;
        default:
          return;
      }
    } catch (err) {
      this.crashed(err);
    }
  };

  /** Something threw while serving this connection: it ends, and only it. */
  private crashed(err: unknown): void {
    this.phase = Phase.Gone;
    this.pending = undefined;
    this.res?.abandon();
    this.socket.destroy();
    this.opts.onInternalError(err);
  }

  /** Keeps bytes for later and stops reading more meanwhile. */
  private hold(bytes: Buffer): void {
    this.pending = this.pending === undefined ? bytes : Buffer.concat([this.pending, bytes]);
    this.socket.pause();
  }

  /**
   * Serves the requests in the bytes held, one after another in a loop: requests pipelined in one
   * read that the handler answers at once (refusals, redirects) must not each add stack frames,
   * or a few thousand of them in one write would overflow the stack. A nested call (a response
   * finished inside the handler) leaves the work to the loop already running.
   */
  private parse(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.phase === Phase.Head && this.pending !== undefined && !this.awaitingDrain) {
        if (!this.parseOne()) break;
      }
    } catch (err) {
      this.crashed(err);
    } finally {
      this.parsing = false;
    }
    // Waiting for (more of) a head: read on, unless the client must first read what was written.
    if (this.phase === Phase.Head && !this.awaitingDrain && this.socket.isPaused()) this.socket.resume();
  }

  /** Parses and dispatches the request at the start of the held bytes; false when the loop must stop. */
  private parseOne(): boolean {
    const buf = this.pending!;
    const opts = this.opts;
    const scan = this.scan;
    const head = parseRequestHead(buf, 0, opts, scan);
    opts.counters.headBytesScanned += scan.scanned;
    scan.scanned = 0;
    if (head === undefined) {
      if (!this.headStarted) {
        this.headStarted = true;
        this.deadline = Date.now() + opts.headersTimeoutMs;
      }
      return false;
    }
    scan.reset();
    if (isHeadFailure(head)) {
      this.refuse(head.status === 431 ? 'WEFT_ERR_REQUEST_HEADERS_TOO_LARGE' : 'WEFT_ERR_BAD_REQUEST');
      return false;
    }
    opts.counters.heads++;
    const rest = head.length < buf.length ? buf.subarray(head.length) : undefined;
    this.pending = undefined;
    this.deadline = 0;
    this.headStarted = false;
    this.keepAlive = head.keepAlive;
    if (head.method === 'CONNECT') {
      this.connect(head, rest);
      return false;
    }
    const chunked = head.chunked;
    const hasBody = chunked || head.contentLength > 0;
    const req = new H1Request(head, this.socket, hasBody ? new H1Body(this) : null);
    const upgrade = head.upgrade && !isH2cUpgrade(head.headers.upgrade);
    const res = new H1Response(req, this, head.keepAlive && !upgrade);
    this.req = req;
    this.res = res;
    if (upgrade) {
      // The bytes after the head belong to the tunnel the upgrade may become.
      req.upgradeHead = rest ?? EMPTY;
      this.phase = Phase.Responding;
      this.socket.pause();
      opts.onRequest(req, res);
      return false;
    }
    if (hasBody) {
      this.phase = Phase.Body;
      this.deadline = Date.now() + REQUEST_BODY_TIMEOUT_MS;
      this.chunkedBody = chunked;
      if (chunked) (this.decoder ??= new ChunkedDecoder(TRAILER_LIMITS)).reset();
      else this.remaining = head.contentLength;
      this.continueOwed = head.expectContinue;
    } else this.phase = Phase.Responding;
    opts.onRequest(req, res);
    // The handler may have answered and closed already.
    if (rest === undefined || (this.phase as Phase) === Phase.Gone) return false;
    if (this.phase === Phase.Body) {
      const end = this.feedBody(rest, 0);
      if (end >= 0 && end < rest.length) this.hold(rest.subarray(end));
      // The body ended and its response was already finished: the held bytes start the next request.
      return (this.phase as Phase) === Phase.Head;
    }
    if (this.res === res) {
      this.hold(rest);
      return false;
    }
    // The handler already answered (a refusal): the pipelined bytes start the next request,
    // unless the client must first read what was written.
    this.pending = rest;
    return true;
  }

  /** Feeds request body bytes from buf[offset..]; returns where the body ended, or -1 if it continues. */
  private feedBody(buf: Buffer, offset: number): number {
    const body = this.req!.body!;
    if (this.chunkedBody) {
      const end = this.decoder!.feed(buf, offset, this);
      if (end === -2) {
        failBody(body, `bad chunked request body: ${this.decoder!.error}`, 'WEFT_ERR_BAD_REQUEST');
        this.refuse('WEFT_ERR_BAD_REQUEST');
        return -1;
      }
      if (end === -1) return -1;
      const trailers = this.decoder!.trailers;
      if (trailers !== undefined) for (let i = 0; i < trailers.length; i += 2) body.trailers[trailers[i]] = trailers[i + 1];
      this.bodyDone();
      return end;
    }
    const n = Math.min(this.remaining, buf.length - offset);
    this.remaining -= n;
    this.onData(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
    if (this.remaining > 0) return -1;
    this.bodyDone();
    return offset + n;
  }

  /** Body bytes for the reader (the decoder's sink). */
  onData(chunk: Buffer): void {
    if (chunk.length > 0 && !this.req!.body!.push(chunk)) {
      this.bodyPaused = true;
      this.socket.pause();
    }
  }

  private bodyDone(): void {
    const req = this.req!;
    this.deadline = 0;
    this.continueOwed = false;
    req.complete = true;
    req.body!.push(null);
    if (this.res?.finished) this.next();
    else this.phase = Phase.Responding;
  }

  /** The current response is complete: on to the next request, or close. */
  responseFinished(res: H1Response): void {
    if (this.res !== res) return;
    if (!res.shouldKeepAlive || this.retired || this.phase === Phase.Body) {
      // A body still arriving cannot be skipped safely: the connection ends with the response.
      this.phase = Phase.Gone;
      this.socket.end();
      return;
    }
    if (this.phase === Phase.Responding) this.next();
  }

  private next(): void {
    this.req = undefined;
    this.res = undefined;
    this.continueOwed = false;
    this.phase = Phase.Head;
    this.deadline = Date.now() + this.opts.keepAliveTimeoutMs;
    this.headStarted = false;
    // The finished body's reader may have stopped reading; the next request's body has its own.
    this.bodyPaused = false;
    if (this.socket.writableNeedDrain) {
      // A client that pipelines without reading would otherwise make the sidecar queue
      // responses without bound: the next request waits until the client reads.
      this.awaitingDrain = true;
      this.socket.pause();
      return;
    }
    this.readOn();
  }

  /** Resumes reading and serves what was held back. */
  private readOn(): void {
    const held = this.pending;
    if (this.socket.isPaused()) this.socket.resume();
    if (held !== undefined) this.parse();
  }

  /**
   * CONNECT: the socket leaves HTTP with whatever followed the head. Its new owner takes it once
   * this call stack has unwound: the bytes after the head may hold the next request of a tunnel,
   * whose parse must not nest inside this one.
   */
  private connect(head: RequestHead, rest: Buffer | undefined): void {
    const onConnect = this.opts.onConnect;
    if (onConnect === undefined) return this.refuse('WEFT_ERR_BAD_REQUEST');
    const req = new H1Request(head, this.socket, null);
    const socket = this.socket;
    this.detach();
    setImmediate(() => {
      if (socket.destroyed) return;
      try {
        onConnect(req, socket, rest ?? EMPTY);
      } catch (err) {
        socket.destroy();
        this.opts.onInternalError(err);
      }
    });
  }

  /**
   * Stops treating the socket as HTTP (CONNECT, or an upgrade that succeeded). The socket is left
   * paused, so bytes the client sends before its new owner reads (which `pipe` and the listener's
   * first-byte reader resume) wait in the socket instead of being emitted to nobody.
   */
  detach(): void {
    this.phase = Phase.Gone;
    this.socket.pause();
    this.socket.off('data', this.onSocketData);
    this.socket.off('drain', this.onDrain);
    this.socket.off('close', this.onClose);
    this.opts.onClose(this);
  }

  /** Answers a request the handler never saw, then closes. */
  private refuse(code: WeftErrorCode): void {
    this.phase = Phase.Gone;
    this.pending = undefined;
    this.opts.onClientError(code, this.socket);
    const socket = this.socket;
    const res = this.res;
    const sent = res !== undefined && res.headersSent;
    res?.abandon();
    if (sent || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(code));
    // A client that never reads must not hold the socket open.
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private readonly onDrain = (): void => {
    try {
      if (this.awaitingDrain) {
        this.awaitingDrain = false;
        this.readOn();
        return;
      }
      this.res?.emit('drain');
    } catch (err) {
      this.crashed(err);
    }
  };

  private readonly onClose = (): void => {
    const res = this.res;
    const req = this.req;
    this.phase = Phase.Gone;
    this.req = undefined;
    this.res = undefined;
    if (req?.body && !req.complete) failBody(req.body, 'client closed the connection', 'ECONNRESET');
    if (res !== undefined && !res.finished) res.emit('close');
    this.opts.onClose(this);
  };
}

/** Ends a body that will not complete; its reader, if it has one, gets the error. */
function failBody(body: H1Body, message: string, code: string): void {
  if (body.listenerCount('error') > 0) body.destroy(Object.assign(new Error(message), { code }));
  else body.destroy();
}

/** h2c upgrades are ignored (RFC 9113 removed them): such requests are served as HTTP/1.1. */
function isH2cUpgrade(value: string | string[] | undefined): boolean {
  return typeof value === 'string' && value.trim().toLowerCase() === 'h2c';
}
