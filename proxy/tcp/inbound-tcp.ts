/**
 * Inbound TCP listeners: peers reach every app port through the one inbound port, and HTTP
 * carries the app port in `x-weft-target-port`; a byte stream has no header. The inbound port
 * therefore takes a connection as TCP when:
 * - transparent mode redirected it and its original destination is a TCP listener's port, or
 * - the node has exactly one TCP listener and the first bytes are neither HTTP nor a TLS
 *   handshake this port terminates (with inbound TLS, the bytes after termination decide).
 * Without inbound TLS, a connection that certainly is TCP (its original destination is a TCP
 * listener's port, or the node's only listener is TCP) is joined at accept, so protocols where
 * the server speaks first work; with inbound TLS the client's first bytes must come first.
 * A node with several TCP listeners is reachable over TCP only in transparent mode with the
 * original-destination addon; otherwise such connections are refused with
 * `WEFT_ERR_TCP_LISTENER_AMBIGUOUS`.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import { RATE_LIMITED } from '../policy/rate-limit';
import { peerOfSocket } from '../tls/peer-identity';
import { looksLikeTls } from './client-hello';
import { originalDestination, type OriginalDestination } from './original-dst';
import { looksLikeHttp, type ConnectionDivert } from './divert';
import type { TcpProxy } from './tcp-proxy';

interface TcpPort {
  listenerPort: number;
  appPort: number;
  idleMs: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_MS = 300_000;

export class InboundTcp implements ConnectionDivert {
  private readonly plan = new WeakMap<Snapshot, { tcp: TcpPort[]; onlyTcp: boolean }>();
  private readonly dst = new WeakMap<Socket, OriginalDestination>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly proxy: TcpProxy,
    private readonly appHost: string,
    private readonly transparent: boolean,
  ) {}

  onAccept(socket: Socket): boolean {
    const snapshot = this.ctx.store.current;
    if (snapshot === undefined) return false;
    const { tcp, onlyTcp } = this.planOf(snapshot);
    if (tcp.length === 0) return false;
    const dst = this.transparent ? originalDestination(socket) : undefined;
    if (dst !== undefined) this.dst.set(socket, dst);
    // With inbound TLS, the stream is joined only after the listener terminated it.
    if (snapshot.inboundTls !== undefined) return false;
    const byDst = dst === undefined ? undefined : this.byPort(snapshot, dst.port);
    if (byDst === 'http') return false;
    if (byDst !== undefined) return this.forward(snapshot, socket, byDst, EMPTY);
    if (onlyTcp && tcp.length === 1) return this.forward(snapshot, socket, tcp[0], EMPTY);
    return false;
  }

  onFirstBytes(socket: Socket, first: Buffer, encrypted: boolean): boolean {
    const snapshot = this.ctx.store.current;
    if (snapshot === undefined || looksLikeHttp(first)) return false;
    // TLS this port terminates goes to the TLS server first; its plaintext comes back here.
    if (!encrypted && snapshot.inboundTls !== undefined && (snapshot.inboundTls.mode === 'STRICT' || looksLikeTls(first))) return false;
    const { tcp } = this.planOf(snapshot);
    if (tcp.length === 0) return false;
    // A TLS socket's original destination was recorded on the TCP socket it wraps.
    const raw = encrypted ? ((socket as Socket & { _parent?: Socket })._parent ?? socket) : socket;
    const dst = this.dst.get(raw);
    const byDst = dst === undefined ? undefined : this.byPort(snapshot, dst.port);
    if (byDst === 'http') return false;
    if (byDst !== undefined) return this.forward(snapshot, socket, byDst, first);
    if (tcp.length > 1) {
      this.proxy.refuse(socket, this.proxy.begin(socket, 'inbound'), 'WEFT_ERR_TCP_LISTENER_AMBIGUOUS', { listener: 'inbound', tcpListeners: tcp.map((p) => p.listenerPort) });
      return true;
    }
    return this.forward(snapshot, socket, tcp[0], first);
  }

  /** The listener a redirected connection was meant for, by its original port. */
  private byPort(snapshot: Snapshot, port: number): TcpPort | 'http' | undefined {
    const tcp = this.planOf(snapshot).tcp.find((p) => p.listenerPort === port || p.appPort === port);
    if (tcp !== undefined) return tcp;
    return snapshot.inboundPorts.some((p) => p.listenerPort === port || p.appPort === port) ? 'http' : undefined;
  }

  /** Joins the connection to the app port, once the node's inbound policy (what a connection shows of it) allows it. */
  private forward(snapshot: Snapshot, socket: Socket, port: TcpPort, head: Buffer): true {
    const record = this.proxy.begin(socket, 'inbound');
    const where = { listener: 'inbound', port: port.listenerPort };
    const join = (): void =>
      this.proxy.toAddress(socket, record, this.appHost, port.appPort, head, { connectTimeoutMs: CONNECT_TIMEOUT_MS, idleTimeoutMs: port.idleMs }, 'WEFT_ERR_APP_UNREACHABLE', where);
    const policy = snapshot.policy.inbound;
    if (policy.empty) {
      join();
      return true;
    }
    const deny = (reason: string): void => this.proxy.refuse(socket, record, 'WEFT_ERR_POLICY_DENIED', { ...where, reason });
    const decide = (refusal: { code: string } | undefined): void => {
      if (refusal?.code === RATE_LIMITED) this.proxy.refuse(socket, record, 'WEFT_ERR_RATE_LIMITED', where);
      else if (refusal !== undefined) deny(refusal.code);
      else if (socket.destroyed) deny('the peer closed while its connection was judged');
      else join();
    };
    socket.pause();
    try {
      const servername = (socket as Partial<TLSSocket>).servername;
      const sni = typeof servername === 'string' ? servername : undefined;
      const result = policy.evaluate({ listener: 'inbound', peer: peerOfSocket(socket), peerAddress: record.peerAddress, port: port.listenerPort, http: undefined, sni });
      if (result instanceof Promise) result.then(decide, (err: Error) => deny(`policy check failed: ${err.message}`));
      else decide(result);
    } catch (err) {
      deny(`policy check failed: ${(err as Error).message}`);
    }
    return true;
  }

  private planOf(snapshot: Snapshot): { tcp: TcpPort[]; onlyTcp: boolean } {
    let plan = this.plan.get(snapshot);
    if (plan === undefined) {
      const listeners = snapshot.config.inbound.listeners;
      const tcp: TcpPort[] = [];
      listeners.forEach((l, i) => {
        if (l.protocol !== 'tcp') return;
        const mapped = snapshot.inboundPorts.find((p) => p.listenerPort === l.port) ?? snapshot.inboundPorts[i];
        tcp.push({ listenerPort: l.port, appPort: mapped?.appPort ?? l.port, idleMs: l.timeout.idleMs > 0 ? l.timeout.idleMs : DEFAULT_IDLE_MS });
      });
      plan = { tcp, onlyTcp: tcp.length === listeners.length };
      this.plan.set(snapshot, plan);
    }
    return plan;
  }
}

const EMPTY = Buffer.alloc(0);
