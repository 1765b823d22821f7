/**
 * An HTTP/1.1 upstream: a keep-alive pool of connections (TCP, or TLS with the cluster's client
 * certificate) to one endpoint, written on raw sockets and Weft's own strict parser instead of
 * undici. It takes the same `dispatch(options, handler)` call and drives the same handler callbacks
 * as {@link H2Upstream}, so the exchange does not know which protocol or client carries it.
 *
 * Why not undici: on the benchmark's one-hop path undici's request machinery cost about a third of
 * the sidecar's CPU per request (docs/decisions/0001-own-http1-engine.md). A pooled socket that
 * writes one request head and parses one response head needs none of its generality (pipelining,
 * redirects, interceptors).
 *
 * One request per connection at a time (no pipelining). Responses are framed by RFC 9112 §6.3:
 * none for HEAD, 1xx, 204 and 304; Content-Length; chunked; otherwise until the upstream closes.
 * A connection is reused only after a complete response that allows it. Idle connections are
 * closed after `idleTimeoutMs` by one sweep per pool, not a timer per request.
 *
 * A request without a body that finds its reused connection closed by the upstream before any
 * byte of response (the keep-alive race every pool meets) is sent once more on a new connection.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Dispatcher } from 'undici';
import { ChunkedDecoder, chunkHeader, lastChunk, type ChunkSink } from '../h1/chunked';
import { isSafeFieldText } from '../h1/field-text';
import { isHeadFailure, parseResponseHead, type ResponseHead } from '../h1/head-parser';
import { requestTrailers } from '../message/headers';
import { clientConnectOptions, type ClientTlsOptions } from '../tls/tls-options';
import type { H2AwareHandler, Upstream } from './h2-upstream';
import { UpstreamError } from './upstream-errors';

export interface H1UpstreamOptions {
  host: string;
  port: number;
  tls: ClientTlsOptions | undefined;
  /** Connections at most; requests beyond wait in order. */
  maxConnections: number;
  /** 0: no connect timeout. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0: unlimited. */
  maxRequestsPerConnection: number;
}

/** What an upstream may make the sidecar hold in one response head. */
const RESPONSE_HEAD_LIMITS = { maxHeaderBytes: 64 * 1024, maxHeaders: 256 };
const TRAILER_LIMITS = { maxTrailerBytes: 16 * 1024, maxTrailers: 64 };
const CRLF = '\r\n';
/** Methods a proxy may send again after a connection failed under them (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** One request waiting for, or travelling on, a connection. */
interface Pending {
  options: Dispatcher.DispatchOptions;
  handler: H2AwareHandler;
  /** Already sent once on a reused connection that closed before answering. */
  retried: boolean;
}

export class H1Upstream implements Upstream {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Pending[] = [];
  private connecting = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private closeWaiter: (() => void) | undefined;

  constructor(readonly opts: H1UpstreamOptions) {}

  dispatch(options: Dispatcher.DispatchOptions, handler: H2AwareHandler): boolean {
    if (this.closed) {
      handler.onError?.(new UpstreamError('upstream closed', 'UND_ERR_CLOSED'));
      return false;
    }
    this.send({ options, handler, retried: false });
    return true;
  }

  /** Connections open now (idle and busy), for tests and the admin endpoint. */
  get size(): number {
    return this.all.size;
  }

  /** Stops taking requests; resolves when in-flight ones finished and every connection closed. */
  close(): Promise<void> {
    this.closed = true;
    for (const c of this.idle) c.socket.destroy();
    this.idle.length = 0;
    this.stopSweeper();
    if (this.all.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiter = resolve));
  }

  /** Fails every queued request and destroys every connection. */
  destroy(): Promise<void> {
    this.closed = true;
    this.stopSweeper();
    const queued = this.queue.splice(0);
    for (const p of queued) p.handler.onError?.(new UpstreamError('upstream destroyed', 'UND_ERR_DESTROYED'));
    for (const c of [...this.all]) c.socket.destroy();
    this.idle.length = 0;
    return Promise.resolve();
  }

  private send(p: Pending): void {
    // Newest idle connection first: it is the least likely to have been closed by the upstream.
    let conn = this.idle.pop();
    // One the upstream already closed (its 'close' not yet delivered) would fail the request unsent.
    while (conn !== undefined && (conn.socket.destroyed || !conn.socket.writable)) conn = this.idle.pop();
    if (conn !== undefined) {
      conn.start(p);
      return;
    }
    this.queue.push(p);
    this.connectForQueue();
  }

  /** Opens connections for queued requests that no connection being opened will take. */
  private connectForQueue(): void {
    while (this.queue.length > this.connecting && this.all.size < this.opts.maxConnections && !this.closed) this.open();
  }

  private open(): void {
    const { host, port, tls, connectTimeoutMs } = this.opts;
    const socket = tls
      ? tlsConnect({ host, port, ...clientConnectOptions(tls), ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port, noDelay: true });
    const conn = new Connection(this, socket);
    this.all.add(conn);
    this.connecting++;
    if (connectTimeoutMs > 0) {
      socket.setTimeout(connectTimeoutMs, () => socket.destroy(new UpstreamError(`connect timeout after ${connectTimeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT')));
    }
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.connecting--;
      conn.connected = true;
      if (connectTimeoutMs > 0) socket.setTimeout(0);
      if (tls) socket.setNoDelay(true);
      this.release(conn);
    });
  }

  /** A connection is free: give it the next queued request, or park it. */
  release(conn: Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      conn.start(next);
      return;
    }
    if (this.closed) {
      conn.socket.destroy();
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
    this.startSweeper();
  }

  /** A connection closed: forget it; a connect failure fails the queue it would have served. */
  forget(conn: Connection, err: Error | undefined): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (!conn.connected) {
      this.connecting--;
      // Requests queued behind a failed connect fail with it, unless other connections are
      // still coming up or are busy and will take them.
      const failure = err ?? new UpstreamError('connection closed while connecting', 'ECONNRESET');
      if (this.all.size === 0) {
        for (const p of this.queue.splice(0)) p.handler.onError?.(failure);
      }
    } else this.connectForQueue();
    this.maybeClosed();
  }

  /** Sends a request again on a fresh connection (see the class comment). */
  retry(p: Pending): void {
    p.retried = true;
    this.queue.unshift(p);
    this.connectForQueue();
  }

  private maybeClosed(): void {
    if (this.closed && this.all.size === 0 && this.closeWaiter) {
      const done = this.closeWaiter;
      this.closeWaiter = undefined;
      done();
    }
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    const every = Math.max(250, Math.min(1_000, this.opts.idleTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.opts.idleTimeoutMs;
    // Oldest first: the idle list is in release order.
    while (this.idle.length > 0 && this.idle[0].idleSince <= cutoff) this.idle.shift()!.socket.destroy();
    if (this.idle.length === 0) this.stopSweeper();
  }
}

/** Response body framing, decided by the response head and the request method. */
const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

/** One keep-alive connection and the exchange it carries. */
class Connection implements ChunkSink {
  connected = false;
  idleSince = 0;
  private requests = 0;
  private current: Pending | undefined;
  /** Bytes of a response head not yet complete. */
  private partial: Buffer | undefined;
  private head: ResponseHead | undefined;
  private framing = Framing.None;
  private remaining = 0;
  private chunked: ChunkedDecoder | undefined;
  private headOnly = false;
  private responseBytes = 0;
  private reused = false;
  private keepAlive = true;
  /** This connection's last request (it asked the upstream to close). */
  private lastRequest = false;
  /** Detaches the request body still being sent, when there is one. */
  private stopBody: (() => void) | undefined;
  private upgraded = false;

  constructor(
    private readonly pool: H1Upstream,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => {
      // The handler writes to the client from these callbacks; if that throws (a response the
      // client's protocol cannot carry), the exchange fails instead of the process.
      try {
        this.onBytes(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
  }

  start(p: Pending): void {
    this.current = p;
    this.reused = this.requests > 0;
    this.requests++;
    this.responseBytes = 0;
    this.head = undefined;
    this.keepAlive = true;
    const { options, handler } = p;
    handler.onConnect?.(this.abort);
    if (this.current !== p) return; // aborted from onConnect
    const method = options.method;
    this.headOnly = method === 'HEAD';
    const body = (options.body ?? null) as Readable | null;
    const headers = options.headers as Record<string, string | string[] | undefined>;
    let head = `${method} ${options.path} HTTP/1.1\r\n`;
    let lengthKnown = false;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (typeof value === 'string') {
        if (unsafe(name) || unsafe(value)) continue;
        head += `${name}: ${value}\r\n`;
      } else {
        for (const v of value) if (!unsafe(name) && !unsafe(v)) head += `${name}: ${v}\r\n`;
      }
      if (name === 'content-length') lengthKnown = true;
    }
    if (options.upgrade !== undefined && options.upgrade !== null) head += `connection: upgrade\r\nupgrade: ${options.upgrade}\r\n`;
    const limit = this.pool.opts.maxRequestsPerConnection;
    if (limit > 0 && this.requests >= limit) {
      head += 'connection: close\r\n';
      this.lastRequest = true;
    }
    if (body === null) {
      // Latin-1: field values carry the bytes they arrived with (obs-text included).
      this.socket.write(`${head}\r\n`, 'latin1');
      return;
    }
    const chunked = !lengthKnown;
    if (chunked) head += 'transfer-encoding: chunked\r\n';
    this.socket.write(`${head}\r\n`, 'latin1');
    this.sendBody(body, chunked);
  }

  /** Streams the request body with backpressure; chunked when its length is unknown. */
  private sendBody(body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const onData = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(chunkHeader(chunk.length), 'latin1');
        socket.write(chunk);
        ok = socket.write(CRLF, 'latin1');
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (chunked) socket.write(lastChunk(requestTrailers(body)), 'latin1');
    };
    const onError = (err: Error): void => {
      cleanup();
      this.fail(err);
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      this.stopBody = undefined;
    };
    this.stopBody = cleanup;
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.resume();
  }

  private readonly resume = (): void => {
    this.socket.resume();
  };

  private readonly abort = (err?: Error): void => {
    const p = this.current;
    if (p === undefined) return;
    this.current = undefined;
    this.socket.destroy();
    p.handler.onError?.(err ?? new UpstreamError('aborted', 'UND_ERR_ABORTED'));
  };

  private onBytes(chunk: Buffer): void {
    if (this.current === undefined) {
      // Bytes nobody asked for: the upstream is out of step; this connection cannot be trusted.
      this.socket.destroy();
      return;
    }
    this.responseBytes += chunk.length;
    let buf = chunk;
    let offset = 0;
    while (offset < buf.length && this.current !== undefined) {
      if (this.head === undefined) {
        if (this.partial !== undefined) {
          buf = Buffer.concat([this.partial, buf.subarray(offset)]);
          offset = 0;
          this.partial = undefined;
        }
        const parsed = parseResponseHead(buf, offset, RESPONSE_HEAD_LIMITS);
        if (parsed === undefined) {
          this.partial = buf.subarray(offset);
          return;
        }
        if (isHeadFailure(parsed)) return this.fail(new UpstreamError(`bad response head from upstream: ${parsed.reason}`, 'UND_ERR_INVALID_RESPONSE'));
        offset += parsed.length;
        if (!this.onHead(parsed, buf.subarray(offset))) return;
        continue;
      }
      offset = this.onBody(buf, offset);
    }
  }

  /** Returns false when the connection stops parsing (upgrade, 1xx skipped handled inline). */
  private onHead(head: ResponseHead, rest: Buffer): boolean {
    const status = head.status;
    const p = this.current!;
    if (status === 101 && p.options.upgrade) {
      this.upgraded = true;
      this.current = undefined;
      // Paused before its reader goes: bytes that follow the 101 wait for the tunnel's pipe.
      this.socket.pause();
      this.socket.removeAllListeners('data');
      this.socket.removeAllListeners('end');
      this.socket.removeAllListeners('close');
      this.socket.removeAllListeners('error');
      this.pool.forget(this, undefined);
      if (rest.length > 0) this.socket.unshift(rest);
      p.handler.onUpgrade?.(status, head.rawHeaders as unknown as Buffer[], this.socket);
      return false;
    }
    // Interim responses (100 Continue, 103 Early Hints) are not relayed; the final one follows.
    if (status < 200) return true;
    this.head = head;
    this.keepAlive = head.keepAlive;
    if (this.headOnly || status === 204 || status === 304) this.framing = Framing.None;
    else if (head.chunked) {
      this.framing = Framing.Chunked;
      (this.chunked ??= new ChunkedDecoder(TRAILER_LIMITS)).reset();
    } else if (head.contentLength >= 0) {
      this.framing = Framing.Length;
      this.remaining = head.contentLength;
    } else {
      this.framing = Framing.UntilClose;
      this.keepAlive = false;
    }
    const accepted = p.handler.onHeaders?.(status, head.rawHeaders as unknown as Buffer[], this.resume, head.reason);
    if (accepted === false) this.socket.pause();
    if (this.current !== p) return false;
    if (this.framing === Framing.None || (this.framing === Framing.Length && this.remaining === 0)) {
      this.complete(null, rest.length > 0);
      return false;
    }
    return true;
  }

  /** Consumes body bytes from buf[offset..]; returns the offset reached. */
  private onBody(buf: Buffer, offset: number): number {
    switch (this.framing) {
      case Framing.Length: {
        const n = Math.min(this.remaining, buf.length - offset);
        this.remaining -= n;
        this.onData(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
        if (this.remaining === 0 && this.current !== undefined) this.complete(null, offset + n < buf.length);
        return offset + n;
      }
      case Framing.Chunked: {
        const decoder = this.chunked!;
        const end = decoder.feed(buf, offset, this);
        if (end === -2) {
          this.fail(new UpstreamError(`bad chunked response body: ${decoder.error}`, 'UND_ERR_INVALID_RESPONSE'));
          return buf.length;
        }
        if (end === -1) return buf.length;
        if (this.current !== undefined) this.complete(decoder.trailers ?? null, end < buf.length);
        return end;
      }
      case Framing.UntilClose:
        this.onData(offset === 0 ? buf : buf.subarray(offset));
        return buf.length;
      default:
        return buf.length;
    }
  }

  onData(chunk: Buffer): void {
    const p = this.current;
    if (p === undefined || chunk.length === 0) return;
    if (p.handler.onData?.(chunk) === false) this.socket.pause();
  }

  /**
   * `overrun`: the upstream sent bytes past the response's end. It is out of step with this
   * connection (or attempting response splitting); the connection is not reused.
   */
  private complete(trailers: string[] | null, overrun: boolean): void {
    const p = this.current!;
    this.current = undefined;
    this.head = undefined;
    // A request body still being sent (the upstream answered early) leaves the connection mid-message.
    const reusable = this.keepAlive && !this.lastRequest && !overrun && this.stopBody === undefined;
    this.stopBody?.();
    p.handler.onComplete?.(trailers);
    if (reusable && !this.socket.destroyed) {
      if (this.socket.isPaused()) this.socket.resume();
      this.pool.release(this);
    } else this.socket.destroy();
  }

  private onEnd(): void {
    if (this.current !== undefined && this.head !== undefined && this.framing === Framing.UntilClose) {
      this.complete(null, false);
      return;
    }
    this.socket.destroy();
  }

  private fail(err: Error): void {
    const p = this.current;
    this.current = undefined;
    this.socket.destroy();
    if (p === undefined) return;
    if (this.reused && this.responseBytes === 0 && !p.retried && p.options.body == null && IDEMPOTENT.has(p.options.method)) {
      this.pool.retry(p);
      return;
    }
    p.handler.onError?.(err);
  }

  private onClose(): void {
    if (this.upgraded) return;
    if (this.current !== undefined) {
      const early = this.responseBytes === 0 ? 'upstream closed the connection before responding' : 'upstream closed the connection mid-response';
      this.fail(new UpstreamError(early, this.connected ? 'UND_ERR_SOCKET' : 'ECONNRESET'));
    }
    this.stopBody?.();
    this.pool.forget(this, this.closeError);
  }

  private get closeError(): Error | undefined {
    return (this.socket as Socket & { errored?: Error | null }).errored ?? undefined;
  }
}

/** A header name or value that could split the head: it is dropped rather than sent. */
function unsafe(text: string): boolean {
  return !isSafeFieldText(text);
}
