/**
 * A listening port: accepts connections, classifies each one by its first bytes, terminates TLS
 * when the current config says so, and hands requests to a handler. The TLS decision is taken
 * per connection from the current snapshot, so a config reload can change a port's TLS mode
 * without closing it:
 * - DISABLED: plaintext.
 * - STRICT: TLS only; with validation, a client certificate is required and verified.
 * - PERMISSIVE: the first byte decides (0x16 starts a TLS handshake), one port for both.
 *
 * One port serves HTTP/1.1 and HTTP/2: cleartext HTTP/2 with prior knowledge is recognised by
 * its connection preface, over TLS ALPN offers `h2` and `http/1.1`. A byte-stream handler (the
 * `divert`: TCP listeners, transparent egress) may take a connection at accept or after its
 * first bytes, before it is treated as HTTP.
 *
 * HTTP/1.1 is Weft's own engine (proxy/h1): strict parsing, and every parse failure is answered
 * by code: 400 (smuggling shapes, bad syntax), 431 (header block too large), 408 (headers too
 * slow), then the connection is closed. HTTP/2 is node:http2. HTTP/2 sessions are bounded by header list
 * size and pairs, concurrent streams, session memory, and an idle timeout.
 *
 * Upgrade requests (WebSocket) reach the handler like any request, with a response object that
 * writes to the raw socket: errors and non-101 answers are ordinary responses, and a 101 turns
 * the connection into a tunnel (see `Exchange.onUpgrade`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { constants as cryptoConstants } from 'node:crypto';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ConnectionDivert } from '../tcp/divert';
import { WEFT_ERRORS, type WeftErrorCode } from '../errors';
import { CompletionRecord, RESPONSE_FLAGS, type ListenerKind, type RecordSink } from '../exchange/record';
import { linkRequest } from '../exchange/respond';
import { Responder, type ResponderContext } from '../exchange/responder';
import { H1Connection, SERVER_KEEP_ALIVE_MS, type H1Request, type H1Response, type H1ServerOptions } from '../h1/server-connection';
import { peerAddress } from '../message/headers';
import { newListenerStats, type ListenerStats, type SidecarStats } from '../stats';
import { peerOfSocket, setPeer } from '../tls/peer-identity';
import { MESH_TLS_CIPHERS, sansAccepted, type ServerTlsRuntime } from '../tls/tls-options';
import { uriSans } from '../tls/certificate-provider';

/** The TLS a connection was accepted under (null: none), so a rotation can retire it. */
const kAcceptedTls = Symbol('weft.acceptedTls');
/** On an accepted socket handed to a TLS server: its TLS socket, once the handshake completes, is the connection listed. */
const kWrappedInTls = Symbol('weft.wrappedInTls');
type Tagged = { [kAcceptedTls]?: ServerTlsRuntime | null; [kWrappedInTls]?: true };

/** One open connection of a listener and what it proved about its peer (the admin's `/connections`). */
export interface OpenConnection {
  listener: string;
  /** The peer's address and port. */
  address: string | null;
  port: number | null;
  encrypted: boolean;
  /** The peer's SPIFFE id, when it presented a certificate the trust bundle verified; else null. */
  spiffeId: string | null;
}

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What a connection is, by its first bytes. */
export type ConnectionKind = 'tls' | 'h2' | 'http1';

/**
 * Classifies a connection by the bytes it sent first; undefined while they are a proper prefix of
 * the HTTP/2 preface (more bytes needed). Anything not TLS or HTTP/2 is left to the HTTP/1.1
 * parser, which answers malformed input itself.
 */
export function classifyFirstBytes(first: Buffer): ConnectionKind | undefined {
  if (first.length === 0) return undefined;
  if (first[0] === 0x16) return 'tls';
  const n = Math.min(first.length, H2_PREFACE.length);
  if (first.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : undefined;
}

/** HTTP/2 limits; the header limits come from {@link ListenerLimits}. */
const H2_MAX_CONCURRENT_STREAMS = 256;
const H2_MAX_SESSION_MEMORY_MB = 32;
const H2_IDLE_MS = 60_000;
/** Pseudo-header fields of a request (:method, :scheme, :authority, :path). */
const H2_PSEUDO_HEADERS = 4;

export interface ListenerLimits {
  maxHeaderBytes: number;
  maxHeaders: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
}

export interface ListenerOptions {
  name: string;
  /** Which kind of listener, for completion records and counters. */
  kind: ListenerKind;
  /** Where the completion records of requests refused here go. */
  complete: RecordSink;
  host: string;
  port: number;
  limits: ListenerLimits;
  /** Connections open at most; more are closed at accept and counted. 0: no limit. */
  maxConnections: number;
  stats: SidecarStats;
  /**
   * A TLS handshake on this listener failed or its peer's SAN was not accepted (after it is
   * counted in `stats`): `reason` is the TLS error's code or message, `peer` the client's address.
   */
  onTlsFailure?: (reason: string, peer: string) => void;
  /** Handling a connection threw: it was destroyed; count and log. */
  onInternalError: (err: unknown, listener: string) => void;
  /** The TLS to apply to the next connection (read from the current snapshot). */
  tls: () => ServerTlsRuntime | undefined;
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** CONNECT requests (egress only). */
  onConnect?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Byte streams (proxy/tcp, proxy/transparent): offered each connection at accept and with its
   * first bytes (again after TLS termination) before HTTP sees it. Absent: HTTP only.
   */
  divert?: ConnectionDivert;
}

export class Listener {
  readonly h2: Http2Server;
  readonly stats: ListenerStats = newListenerStats();
  private readonly front: NetServer;
  private readonly h1Options: H1ServerOptions;
  /** For requests inside a CONNECT tunnel: a CONNECT there is refused, tunnels do not nest. */
  private readonly h1TunnelOptions: H1ServerOptions;
  /** The TLS in force when {@link retireStale} last ran. */
  private tlsInForce: ServerTlsRuntime | undefined;
  private readonly h1 = new Set<H1Connection>();
  /** Enforces the HTTP/1.1 head and keep-alive deadlines (one timer per listener, none per request). */
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly tlsServers = new WeakMap<ServerTlsRuntime, TlsServer>();
  private readonly sockets = new Set<Duplex>();
  private draining_ = false;

  constructor(private readonly opts: ListenerOptions) {
    const { limits } = opts;
    const onConnect = opts.onConnect;
    opts.stats.listeners[opts.name] = this.stats;
    this.h1Options = {
      maxHeaderBytes: limits.maxHeaderBytes,
      maxHeaders: limits.maxHeaders,
      headersTimeoutMs: limits.headersTimeoutMs,
      keepAliveTimeoutMs: SERVER_KEEP_ALIVE_MS,
      counters: this.stats,
      // The pipeline is written against Node's request and response; H1Request and H1Response
      // provide the members it uses (see proxy/h1/server-connection.ts).
      onRequest: (req: H1Request, res: H1Response) => this.admit(req as unknown as IncomingMessage, res as unknown as ServerResponse),
      onConnect: onConnect ? (req: H1Request, socket: Socket, head: Buffer) => onConnect(req as unknown as IncomingMessage, socket, head) : undefined,
      onClientError: (code: WeftErrorCode, socket: Socket) => this.clientError(code, socket),
      onInternalError: (err: unknown) => this.opts.onInternalError(err, this.opts.name),
      draining: () => this.draining_,
      onClose: (conn: H1Connection) => this.h1.delete(conn),
    };
    this.h1TunnelOptions = { ...this.h1Options, onConnect: undefined };
    this.h2 = createH2Server({
      maxHeaderListPairs: limits.maxHeaders + H2_PSEUDO_HEADERS,
      maxSessionMemory: H2_MAX_SESSION_MEMORY_MB,
      settings: {
        maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: limits.maxHeaderBytes,
        enablePush: false,
      },
    });
    this.h2.on('session', (session: ServerHttp2Session) => this.session(session));
    this.h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.guard(req.socket, () => this.admitH2(req, res)));
    // With this listener Node no longer sends `100 Continue` by itself: only an admitted request gets it.
    this.h2.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => this.guard(req.socket, () => this.admitH2(req, res, true)));
    this.front = createNetServer({ noDelay: true }, (socket) => this.guard(socket, () => this.accept(socket)));
    if (opts.maxConnections > 0) {
      this.front.maxConnections = opts.maxConnections;
      this.front.on('drop', () => this.stats.refused++);
    }
  }

  get name(): string {
    return this.opts.name;
  }

  get draining(): boolean {
    return this.draining_;
  }

  get kind(): ListenerKind {
    return this.opts.kind;
  }

  /**
   * The open connections with their peers, for the admin (never on the request path). A TLS
   * connection appears once its handshake has completed, with the identity it proved.
   */
  connections(): OpenConnection[] {
    const out: OpenConnection[] = [];
    for (const s of this.sockets) {
      if ((s as Duplex & Tagged)[kWrappedInTls]) continue;
      const peer = peerOfSocket(s);
      const { remoteAddress, remotePort } = s as Socket;
      out.push({
        listener: this.opts.name,
        address: remoteAddress ?? null,
        port: remotePort ?? null,
        encrypted: peer.encrypted,
        spiffeId: peer.authenticated ? (peer.principal ?? null) : null,
      });
    }
    return out;
  }

  /** Binds; resolves with the actual port (the configured one may be 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.front.once('error', reject);
      this.front.listen(this.opts.port, this.opts.host, () => {
        this.front.off('error', reject);
        // Accept errors (EMFILE, ENFILE) must not kill the process; the server keeps listening.
        this.front.on('error', ignoreAcceptError);
        const every = Math.max(50, Math.min(1_000, Math.floor(this.opts.limits.headersTimeoutMs / 4)));
        this.tlsInForce = this.opts.tls();
        this.sweeper = setInterval(() => this.sweep(), every);
        this.sweeper.unref();
        resolve((this.front.address() as { port: number }).port);
      });
    });
  }

  get port(): number {
    return (this.front.address() as { port: number } | null)?.port ?? 0;
  }

  /** Stops accepting; kept-alive connections close after their next response, HTTP/2 sessions get GOAWAY. */
  drain(): void {
    if (this.draining_) return;
    this.draining_ = true;
    this.front.close();
    this.closeIdle();
    // Graceful: GOAWAY now, the session closes when its open streams finish.
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  /** Connections still open (including tunnels handed off by CONNECT). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Closes idle keep-alive connections (called while draining). */
  closeIdle(): void {
    for (const conn of this.h1) if (conn.idle) conn.socket.destroy();
  }

  /**
   * After the port's TLS changed (a certificate or trust bundle rotation, or another mode), no
   * new request is served on a connection accepted under the old one: idle ones close, busy
   * HTTP/1.1 ones close after their current response, HTTP/2 sessions get GOAWAY and finish their
   * streams. Peers reconnect and are judged by the TLS in force. Byte-stream tunnels are left.
   */
  retireStale(): void {
    const current = this.opts.tls();
    if (current === this.tlsInForce) return;
    this.tlsInForce = current;
    for (const conn of this.h1) if (acceptedTls(conn.socket) !== (current ?? null)) conn.retire();
    for (const session of this.sessions) {
      if (session.socket !== undefined && acceptedTls(session.socket) !== (current ?? null) && !session.closed) session.close();
    }
  }

  /** Runs a connection's handler; if it throws, that connection alone ends and the error is reported. */
  private guard(socket: Duplex | null | undefined, run: () => void): void {
    try {
      run();
    } catch (err) {
      socket?.destroy();
      this.opts.onInternalError(err, this.opts.name);
    }
  }

  /** Destroys every connection. */
  destroy(): void {
    this.draining_ = true;
    this.front.close();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    for (const conn of this.h1) conn.socket.destroy();
    this.h1.clear();
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.h2.close();
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.h1) conn.checkDeadline(now);
  }

  /** Keeps a socket counted until it closes (CONNECT tunnels are handed over by the egress). */
  track(socket: Duplex): void {
    this.sockets.add(socket);
    // A peer may reset at any moment, also before a parser or TLS server has attached its own
    // handler (while the first bytes are peeked): an 'error' without a listener would kill the
    // process. Parse errors do not arrive here; they go to the servers' clientError handlers.
    socket.on('error', destroySocket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(socket: Socket): void {
    if (this.draining_) {
      socket.destroy();
      return;
    }
    const stats = this.stats;
    stats.accepted++;
    stats.open++;
    socket.once('close', () => stats.open--);
    this.track(socket);
    const { divert } = this.opts;
    if (divert !== undefined && divert.onAccept(socket)) return;
    const tls = this.opts.tls();
    (socket as Socket & Tagged)[kAcceptedTls] = tls ?? null;
    if (tls !== undefined && tls.mode === 'STRICT') {
      // Read now, while the peer is surely connected: the socket keeps it for a failed handshake's log line.
      if (this.opts.onTlsFailure !== undefined) void socket.remoteAddress;
      (socket as Socket & Tagged)[kWrappedInTls] = true;
      this.tlsServer(tls).emit('connection', socket);
      return;
    }
    this.firstBytes(socket, (first) => {
      if (divert !== undefined && divert.onFirstBytes(socket, first, false)) return;
      const kind = classifyFirstBytes(first);
      if (kind === 'tls' && tls !== undefined) {
        socket.pause();
        socket.unshift(first);
        (socket as Socket & Tagged)[kWrappedInTls] = true;
        this.tlsServer(tls).emit('connection', socket);
      } else {
        this.serve(socket, first, kind === 'h2');
      }
    });
  }

  /**
   * Reads until the connection can be classified (at most the HTTP/2 preface's 24 bytes). Until
   * then neither the TLS nor the HTTP timeouts guard the socket, so this one does.
   */
  private firstBytes(socket: Socket, then: (first: Buffer) => void): void {
    let first: Buffer | undefined;
    socket.setTimeout(this.opts.limits.headersTimeoutMs, () => socket.destroy());
    const onData = (chunk: Buffer): void => {
      first = first === undefined ? chunk : Buffer.concat([first, chunk]);
      if (classifyFirstBytes(first) === undefined) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      this.guard(socket, () => then(first!));
    };
    socket.on('data', onData);
    // A socket handed over from another reader (a CONNECT tunnel) arrives paused.
    socket.resume();
  }

  /**
   * Serves the requests inside an accepted CONNECT tunnel, HTTP/1.1 or HTTP/2 (gRPC clients
   * behind `grpc_proxy` speak HTTP/2 inside), `head` being bytes already read from it.
   */
  serveTunnelled(socket: Socket, head: Buffer): void {
    if (head.length > 0 && classifyFirstBytes(head) !== undefined) {
      this.serve(socket, head, classifyFirstBytes(head) === 'h2', true);
      return;
    }
    if (head.length > 0) socket.unshift(head);
    this.firstBytes(socket, (first) => this.serve(socket, first, classifyFirstBytes(first) === 'h2', true));
  }

  /** Hands a classified connection, and the bytes already read from it, to HTTP/2 or HTTP/1.1. */
  private serve(socket: Socket, first: Buffer, h2: boolean, tunnelled = false): void {
    if (h2) {
      // The HTTP/2 session picks up bytes left in the socket's buffer.
      socket.pause();
      socket.unshift(first);
      this.h2.emit('connection', socket);
    } else {
      this.serveH1(socket, first, tunnelled);
    }
  }

  private serveH1(socket: Socket, first: Buffer, tunnelled = false): void {
    const conn = new H1Connection(socket, tunnelled ? this.h1TunnelOptions : this.h1Options);
    this.h1.add(conn);
    conn.start(first);
  }

  private tlsServer(tls: ServerTlsRuntime): TlsServer {
    let server = this.tlsServers.get(tls);
    if (server === undefined) {
      server = createTlsServer({
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        requestCert: tls.mutual,
        rejectUnauthorized: tls.mutual,
        minVersion: 'TLSv1.2',
        // TLS 1.2 with ECDHE and AEAD only (no CBC, CCM8 or ARIA); TLS 1.3's suites are all AEAD.
        ciphers: MESH_TLS_CIPHERS,
        honorCipherOrder: true,
        // A handshake that stalls is the TLS form of slowloris.
        handshakeTimeout: Math.max(1_000, this.opts.limits.headersTimeoutMs),
        ALPNProtocols: ['h2', 'http/1.1'],
        // No session tickets where clients are sidecars: they keep pooled connections and never
        // resume, and a ticket costs memory per connection (~8 KB of 60; docs/decisions/0016-no-session-tickets-mtls.md).
        // A gateway's clients on the internet do resume, so they keep them.
        secureOptions: tls.mutual ? cryptoConstants.SSL_OP_NO_TICKET : 0,
      });
      server.on('secureConnection', (socket: TLSSocket) => this.guard(socket, () => this.secured(socket, tls)));
      server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
        this.stats.tlsHandshakeFailures++;
        // A reset peer's TLS socket has lost its address; the accepted socket under it cached it.
        const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
        this.opts.onTlsFailure?.(err.code ?? err.message, peerAddress(socket.remoteAddress ?? raw?.remoteAddress));
      });
      this.tlsServers.set(tls, server);
    }
    return server;
  }

  /** A TLS handshake finished: check the peer's identity, then serve the decrypted stream. */
  private secured(socket: TLSSocket, tls: ServerTlsRuntime): void {
    const cert = tls.mutual ? socket.getPeerCertificate() : undefined;
    if (tls.mutual && tls.subjectAlternativeNames.length > 0 && (!cert || !sansAccepted(cert, tls.subjectAlternativeNames))) {
      this.stats.tlsHandshakeFailures++;
      this.opts.onTlsFailure?.(`peer SAN not accepted: ${cert ? uriSans(cert.subjectaltname).join(',') || 'none' : 'no certificate'}`, peerAddress(socket.remoteAddress));
      socket.destroy();
      return;
    }
    const principal = cert ? uriSans(cert.subjectaltname)[0] : undefined;
    const authenticated = tls.mutual && socket.authorized;
    setPeer(socket, { authenticated, principal, encrypted: true, certificateHash: authenticated && cert ? cert.fingerprint256.replaceAll(':', '').toLowerCase() : undefined });
    (socket as TLSSocket & Tagged)[kAcceptedTls] = tls;
    this.track(socket);
    const alpnH2 = socket.alpnProtocol === 'h2';
    const { divert } = this.opts;
    if (divert === undefined) {
      if (alpnH2) this.h2.emit('connection', socket);
      else this.serveH1(socket, EMPTY);
      return;
    }
    // The decrypted first bytes decide whether a byte-stream handler takes the connection.
    this.firstBytes(socket, (first) => {
      if (divert.onFirstBytes(socket, first, true)) return;
      this.serve(socket, first, alpnH2 || classifyFirstBytes(first) === 'h2');
    });
  }

  private session(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    session.on('error', () => session.destroy());
    // Idle sessions close gracefully (GOAWAY; open streams finish first).
    session.setTimeout(H2_IDLE_MS, () => session.close());
    if (this.draining_) session.close();
  }

  /**
   * HTTP/2 requests: Host from `:authority`, then the same checks and handler as HTTP/1.1.
   * `expectsContinue`: the request asked for `100 Continue`, sent only once it is admitted.
   */
  private admitH2(req: Http2ServerRequest, res: Http2ServerResponse, expectsContinue = false): void {
    linkRequest(req, res);
    const r = req as unknown as IncomingMessage;
    const s = res as unknown as ServerResponse;
    const headers = req.headers;
    if (headers.host === undefined) {
      const authority = headers[':authority'];
      // RFC 9113 §8.3.1: a request without authority has no target this proxy could route.
      if (authority === undefined) return this.refuse(r, s, 'WEFT_ERR_BAD_REQUEST');
      headers.host = authority;
    }
    // Extended CONNECT (RFC 8441) and CONNECT tunnels are not offered over HTTP/2.
    if (req.method === 'CONNECT') return this.refuse(r, s, 'WEFT_ERR_BAD_REQUEST');
    this.admit(r, s, expectsContinue ? () => res.writeContinue() : undefined);
  }

  /** Checks Node does not enforce for us, then the handler. */
  private admit(req: IncomingMessage, res: ServerResponse, sendContinue?: () => void): void {
    const { limits } = this.opts;
    if (this.draining_) res.shouldKeepAlive = false;
    if (req.rawHeaders.length > limits.maxHeaders * 2) return this.refuse(req, res, 'WEFT_ERR_REQUEST_HEADERS_TOO_LARGE');
    if (limits.maxBodyBytes > 0) {
      const cl = req.headers['content-length'];
      if (cl !== undefined && Number(cl) > limits.maxBodyBytes) return this.refuse(req, res, 'WEFT_ERR_REQUEST_BODY_TOO_LARGE');
    }
    sendContinue?.();
    this.opts.onRequest(req, res);
  }

  /** A refusal before the body was read: the connection cannot be reused. */
  private refuse(req: IncomingMessage, res: ServerResponse, code: WeftErrorCode): void {
    this.opts.stats.clientErrors++;
    new Responder(this.responderContext, this.opts.kind, req, res).error(code, RESPONSE_FLAGS.downstreamProtocolError, true);
  }

  /** A request the HTTP/1.1 parser refused (answered by the connection itself): counted and recorded. */
  private clientError(code: WeftErrorCode, socket: Socket): void {
    this.opts.stats.clientErrors++;
    const record = new CompletionRecord('http', this.opts.kind, peerAddress(socket.remoteAddress), peerOfSocket(socket));
    record.protocol = 'HTTP/1.1';
    record.status = WEFT_ERRORS[code].status;
    record.errorCode = code;
    record.flag(RESPONSE_FLAGS.downstreamProtocolError);
    this.opts.complete(record);
  }

  private get responderContext(): ResponderContext {
    return { stats: this.opts.stats, complete: this.opts.complete, draining: () => this.draining_ };
  }
}

/** The TLS a connection was accepted under; null for plaintext. */
function acceptedTls(socket: Duplex): ServerTlsRuntime | null | undefined {
  return (socket as Duplex & Tagged)[kAcceptedTls];
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function ignoreAcceptError(): void {}

const EMPTY = Buffer.alloc(0);
