/**
 * An HTTP/2 upstream: a small pool of node:http2 client sessions to one endpoint, cleartext with
 * prior knowledge (h2c) or TLS with ALPN `h2`. It takes the same `dispatch(options, handler)`
 * call and drives the same handler callbacks as an undici Pool, so the exchange does not know
 * which protocol carries it. Written on node:http2 rather than undici's HTTP/2 client because
 * gRPC needs response trailers delivered after the last DATA frame even under backpressure, and
 * a trailers-only response (HEADERS with END_STREAM) reported as such.
 *
 * Streams share a session up to the peer's concurrent-stream limit; past it a new session opens
 * (at most `maxSessions`). Idle sessions close after `idleTimeoutMs`.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { headerObject, requestTrailers } from '../message/headers';
import { clientConnectOptions, type ClientTlsOptions } from '../tls/tls-options';
import { UpstreamError } from './upstream-errors';

/** What the forwarder needs from an upstream: undici's dispatch contract. */
export interface Upstream {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * The handler the HTTP/2 upstream drives: undici's callbacks, where `onHeaders` also says the
 * response ended with its headers (gRPC trailers-only), and trailers are a flat name/value list.
 */
export interface H2AwareHandler extends Dispatcher.DispatchHandler {
  onHeaders?(statusCode: number, headers: (Buffer | string)[], resume: () => void, statusText: string, endStream?: boolean): boolean;
}

export interface H2UpstreamOptions {
  tls: ClientTlsOptions | undefined;
  /** 0: no connect timeout. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxSessions: number;
}

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = constants;
/** Limits for what an upstream may make the sidecar hold. */
const MAX_SESSION_MEMORY_MB = 32;
const MAX_RESPONSE_HEADER_PAIRS = 256;

interface Session {
  h2: ClientHttp2Session;
  streams: number;
  ready: boolean;
  failed: Error | undefined;
  waiting: (() => void)[];
}

export class H2Upstream implements Upstream {
  private sessions: Session[] = [];
  private closed = false;
  private readonly scheme: 'http' | 'https';

  constructor(
    private readonly origin: string,
    private readonly opts: H2UpstreamOptions,
  ) {
    this.scheme = opts.tls ? 'https' : 'http';
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: H2AwareHandler): boolean {
    if (this.closed) {
      handler.onError?.(new UpstreamError('upstream closed', 'UND_ERR_CLOSED'));
      return false;
    }
    const session = this.acquire();
    session.streams++;
    if (session.ready) this.start(session, options, handler);
    else session.waiting.push(() => (session.failed ? this.fail(session, handler) : this.start(session, options, handler)));
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = this.sessions;
    this.sessions = [];
    await Promise.all(sessions.map((s) => new Promise<void>((r) => (s.h2.closed || s.h2.destroyed ? r() : s.h2.close(() => r())))));
  }

  async destroy(): Promise<void> {
    this.closed = true;
    for (const s of this.sessions) s.h2.destroy();
    this.sessions = [];
  }

  private fail(session: Session, handler: H2AwareHandler): void {
    session.streams--;
    handler.onError?.(session.failed!);
  }

  /** The least-loaded usable session with room for a stream, or a new one. */
  private acquire(): Session {
    let best: Session | undefined;
    for (const s of this.sessions) {
      if (s.failed || s.h2.closed || s.h2.destroyed) continue;
      const limit = s.ready ? (s.h2.remoteSettings.maxConcurrentStreams ?? 100) : 100;
      if (s.streams < limit && (best === undefined || s.streams < best.streams)) best = s;
    }
    if (best !== undefined) return best;
    if (this.sessions.length < this.opts.maxSessions) return this.open();
    // Every session is full: queue on the least loaded (nghttp2 holds streams past the peer's limit).
    let least = this.sessions[0];
    for (const s of this.sessions) if (s.streams < least.streams) least = s;
    return least;
  }

  private open(): Session {
    const { tls, connectTimeoutMs, idleTimeoutMs } = this.opts;
    const h2 = connect(this.origin, {
      ...(tls ? clientConnectOptions(tls) : {}),
      ALPNProtocols: ['h2'],
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      maxHeaderListPairs: MAX_RESPONSE_HEADER_PAIRS,
      settings: { enablePush: false },
    });
    const session: Session = { h2, streams: 0, ready: false, failed: undefined, waiting: [] };
    this.sessions.push(session);
    const connectTimer = connectTimeoutMs > 0 ? setTimeout(() => h2.destroy(new UpstreamError('connect timeout', 'UND_ERR_CONNECT_TIMEOUT')), connectTimeoutMs) : undefined;
    const flush = (): void => {
      const waiting = session.waiting;
      session.waiting = [];
      for (const w of waiting) w();
    };
    h2.once('connect', () => {
      if (connectTimer) clearTimeout(connectTimer);
      session.ready = true;
      flush();
    });
    h2.on('error', (err: Error) => {
      if (!session.ready) session.failed = err;
    });
    h2.once('close', () => {
      if (connectTimer) clearTimeout(connectTimer);
      this.sessions = this.sessions.filter((s) => s !== session);
      session.failed ??= new UpstreamError('upstream session closed before it was ready', 'ECONNRESET');
      if (!session.ready) flush();
    });
    h2.once('goaway', () => {
      // No new streams on this session; in-flight ones finish.
      this.sessions = this.sessions.filter((s) => s !== session);
    });
    if (idleTimeoutMs > 0) {
      h2.setTimeout(idleTimeoutMs, () => {
        if (session.streams === 0) h2.close();
      });
    }
    return session;
  }

  private start(session: Session, options: Dispatcher.DispatchOptions, handler: H2AwareHandler): void {
    let stream: ClientHttp2Stream | undefined;
    let done = false;
    let trailers: string[] | null = null;
    const release = (): void => {
      if (done) return;
      done = true;
      session.streams--;
    };
    const abort = (err?: Error): void => {
      if (done) return;
      release();
      if (stream !== undefined && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
      handler.onError?.(err ?? new UpstreamError('aborted', 'UND_ERR_ABORTED'));
    };
    handler.onConnect?.(abort);
    if (done) return;
    const body = options.body as Readable | null | undefined;
    try {
      // With a body, the stream ends with the request's trailers when it has some (an empty
      // DATA frame with END_STREAM when it has none, which Node sends for empty trailers).
      stream = session.h2.request(this.requestHeaders(options), body == null ? { endStream: true } : { endStream: false, waitForTrailers: true });
    } catch (err) {
      release();
      handler.onError?.(err as Error);
      return;
    }
    const s = stream;
    // The handler writes to the client from these callbacks; if that throws (a response the
    // client's protocol cannot carry), this exchange fails instead of the process.
    s.once('response', (headers: IncomingHttpHeaders, flags: number) => {
      if (done) return;
      try {
        const status = Number(headers[':status']);
        const keepGoing = handler.onHeaders?.(status, flatten(headers), () => s.resume(), '', (flags & NGHTTP2_FLAG_END_STREAM) !== 0);
        if (keepGoing === false) s.pause();
      } catch (err) {
        abort(err as Error);
      }
    });
    s.on('data', (chunk: Buffer) => {
      try {
        if (!done && handler.onData?.(chunk) === false) s.pause();
      } catch (err) {
        abort(err as Error);
      }
    });
    // Kept until 'end': under backpressure, DATA read later still comes before the trailers.
    s.once('trailers', (headers: IncomingHttpHeaders) => (trailers = flatten(headers)));
    s.once('end', () => {
      if (done) return;
      release();
      try {
        handler.onComplete?.(trailers);
      } catch (err) {
        handler.onError?.(err as Error);
      }
    });
    s.once('error', (err: Error) => abort(err));
    s.once('close', () => {
      if (!done) abort(new UpstreamError(`upstream stream closed (code ${s.rstCode ?? 0})`, 'UND_ERR_SOCKET'));
    });
    if (body != null) {
      // headerObject keeps one value of a field HTTP/2 takes once: sendTrailers throws on two.
      s.once('wantTrailers', () => s.sendTrailers(headerObject(requestTrailers(body) ?? []) as OutgoingHttpHeaders));
      body.on('error', () => abort());
      body.pipe(s);
    }
  }

  private requestHeaders(options: Dispatcher.DispatchOptions): OutgoingHttpHeaders {
    const src = options.headers as Record<string, string | string[]>;
    const out: OutgoingHttpHeaders = { ':method': options.method, ':path': options.path, ':scheme': this.scheme };
    for (const name in src) {
      if (name === 'host') out[':authority'] = src[name];
      else out[name] = src[name];
    }
    // The sidecar relays trailers, so it may say so (gRPC servers require it).
    out.te = 'trailers';
    return out;
  }
}

/** Node's header object as a flat `[name, value, ...]` list, without pseudo-headers. */
function flatten(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}
