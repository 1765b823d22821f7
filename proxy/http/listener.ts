/**
 * A listening port: accepts connections, terminates TLS when the current config says so, and
 * hands HTTP/1.1 requests to a handler. The TLS decision is taken per connection from the current
 * snapshot, so a config reload can change a port's TLS mode without closing it:
 * - DISABLED: plaintext.
 * - STRICT: TLS only; with validation, a client certificate is required and verified.
 * - PERMISSIVE: the first byte decides (0x16 starts a TLS handshake), one port for both.
 *
 * Parsing is strict (Node's llhttp without the lenient flags) and every parse failure is
 * answered by code: 400 (smuggling shapes, bad syntax), 431 (header block too large), 408
 * (headers too slow), then the connection is closed.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { rawErrorResponse, sendError, type WeftErrorCode } from '../errors';
import type { SidecarStats } from '../stats';
import { sansAccepted, type ServerTlsRuntime } from '../tls/tls-options';
import { uriSans } from '../tls/certificate-provider';

/** What a connection proved about its peer. */
export interface PeerIdentity {
  /** The peer presented a client certificate that the trust bundle verified. */
  authenticated: boolean;
  /** The client certificate's SPIFFE id (first URI SAN), when authenticated. */
  principal: string | undefined;
  encrypted: boolean;
}

const PLAINTEXT: PeerIdentity = Object.freeze({ authenticated: false, principal: undefined, encrypted: false });
const kPeer = Symbol('weft.peer');

/** The identity established for the connection a request arrived on. */
export function peerOf(req: IncomingMessage): PeerIdentity {
  return (req.socket as Socket & { [kPeer]?: PeerIdentity })[kPeer] ?? PLAINTEXT;
}

export interface ListenerLimits {
  maxHeaderBytes: number;
  maxHeaders: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
}

export interface ListenerOptions {
  name: string;
  host: string;
  port: number;
  limits: ListenerLimits;
  stats: SidecarStats;
  /** The TLS to apply to the next connection (read from the current snapshot). */
  tls: () => ServerTlsRuntime | undefined;
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** CONNECT requests (egress only). */
  onConnect?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export class Listener {
  readonly http: HttpServer;
  private readonly front: NetServer;
  private readonly tlsServers = new WeakMap<ServerTlsRuntime, TlsServer>();
  private readonly sockets = new Set<Duplex>();
  private draining_ = false;

  constructor(private readonly opts: ListenerOptions) {
    const { limits } = opts;
    this.http = createHttpServer({
      insecureHTTPParser: false,
      requireHostHeader: true,
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: 0,
      keepAliveTimeout: 60_000,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    });
    // maxHeadersCount truncates rather than refuses; one over the limit lets us see the overflow.
    this.http.maxHeadersCount = limits.maxHeaders + 1;
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => this.admit(req, res));
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    if (opts.onConnect) this.http.on('connect', opts.onConnect);
    // The HTTP server never listens itself (connections arrive through the front), but its
    // timeout sweeper and idle-connection tracking start on 'listening'.
    this.http.emit('listening');
    this.front = createNetServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  get name(): string {
    return this.opts.name;
  }

  get draining(): boolean {
    return this.draining_;
  }

  /** Binds; resolves with the actual port (the configured one may be 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.front.once('error', reject);
      this.front.listen(this.opts.port, this.opts.host, () => {
        this.front.off('error', reject);
        resolve((this.front.address() as { port: number }).port);
      });
    });
  }

  get port(): number {
    return (this.front.address() as { port: number } | null)?.port ?? 0;
  }

  /** Stops accepting; kept-alive connections close after their next response. */
  drain(): void {
    if (this.draining_) return;
    this.draining_ = true;
    this.front.close();
    this.http.closeIdleConnections();
  }

  /** Connections still open (including tunnels handed off by CONNECT). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Closes idle keep-alive connections (called while draining). */
  closeIdle(): void {
    this.http.closeIdleConnections();
  }

  /** Destroys every connection. */
  destroy(): void {
    this.draining_ = true;
    this.front.close();
    this.http.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.http.close();
  }

  /** Keeps a socket counted until it closes (CONNECT tunnels are handed over by the egress). */
  track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(socket: Socket): void {
    if (this.draining_) {
      socket.destroy();
      return;
    }
    this.track(socket);
    const tls = this.opts.tls();
    if (tls === undefined) {
      this.http.emit('connection', socket);
    } else if (tls.mode === 'STRICT') {
      this.tlsServer(tls).emit('connection', socket);
    } else {
      // Until the first byte decides, neither the TLS nor the HTTP timeouts guard the socket.
      socket.setTimeout(this.opts.limits.headersTimeoutMs, () => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        socket.setTimeout(0);
        if (chunk[0] === 0x16) {
          socket.pause();
          socket.unshift(chunk);
          this.tlsServer(tls).emit('connection', socket);
        } else {
          // The HTTP parser reads the socket's handle directly, bypassing unshift: replay the
          // peeked bytes as a data event instead.
          this.http.emit('connection', socket);
          socket.emit('data', chunk);
        }
      });
    }
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
        // A handshake that stalls is the TLS form of slowloris.
        handshakeTimeout: Math.max(1_000, this.opts.limits.headersTimeoutMs),
        ALPNProtocols: ['http/1.1'],
      });
      server.on('secureConnection', (socket: TLSSocket) => {
        const cert = tls.mutual ? socket.getPeerCertificate() : undefined;
        if (tls.mutual && tls.subjectAlternativeNames.length > 0 && (!cert || !sansAccepted(cert, tls.subjectAlternativeNames))) {
          socket.destroy();
          return;
        }
        const principal = cert ? uriSans(cert.subjectaltname)[0] : undefined;
        (socket as TLSSocket & { [kPeer]?: PeerIdentity })[kPeer] = { authenticated: tls.mutual && socket.authorized, principal, encrypted: true };
        this.track(socket);
        this.http.emit('connection', socket);
      });
      server.on('tlsClientError', () => undefined);
      this.tlsServers.set(tls, server);
    }
    return server;
  }

  /** Checks Node does not enforce for us, then the handler. */
  private admit(req: IncomingMessage, res: ServerResponse): void {
    const { limits } = this.opts;
    if (this.draining_) res.shouldKeepAlive = false;
    if (req.rawHeaders.length > limits.maxHeaders * 2) return this.refuse(res, 'WEFT_ERR_REQUEST_HEADERS_TOO_LARGE');
    if (limits.maxBodyBytes > 0) {
      const cl = req.headers['content-length'];
      if (cl !== undefined && Number(cl) > limits.maxBodyBytes) return this.refuse(res, 'WEFT_ERR_REQUEST_BODY_TOO_LARGE');
    }
    this.opts.onRequest(req, res);
  }

  /** A refusal before the body was read: the connection cannot be reused. */
  private refuse(res: ServerResponse, code: WeftErrorCode): void {
    this.opts.stats.clientErrors++;
    sendError(res, code, true);
  }

  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.opts.stats.clientErrors++;
    const code: WeftErrorCode | undefined =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'WEFT_ERR_REQUEST_HEADERS_TOO_LARGE'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'WEFT_ERR_REQUEST_HEADERS_TIMEOUT'
          : err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE'
            ? undefined
            : 'WEFT_ERR_BAD_REQUEST';
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (code !== undefined && socket.writable && !inFlight?.headersSent) {
      socket.end(rawErrorResponse(code));
      socket.once('finish', () => socket.destroy());
      setTimeout(() => socket.destroy(), 1_000).unref();
    } else {
      socket.destroy();
    }
  }
}
