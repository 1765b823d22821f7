/**
 * Transparent egress for what is not HTTP. iptables (the ECS APPMESH ProxyConfiguration)
 * redirects every outbound TCP connection of the app to the egress port; HTTP requests there are
 * routed by Host like explicit ones, and this handler takes the rest:
 * - TLS (a ClientHello): routed by SNI without terminating TLS. A name that is a mesh service
 *   goes to that service's TCP route; any other name passes through to the original destination
 *   (or `<sni>:443` without the addon) under ALLOW_ALL and is refused under DROP_ALL.
 * - Plain TCP: routed by the original destination (SO_ORIGINAL_DST, native addon). Its port
 *   selects the mesh's TCP service listener on that port; any other destination passes through
 *   under ALLOW_ALL. Without the addon it is refused (`WEFT_ERR_ORIGINAL_DST_UNAVAILABLE`): list
 *   such ports in the ProxyConfiguration's EgressIgnoredPorts.
 */
import type { Socket } from 'node:net';
import type { Snapshot } from '../config/config-store';
import type { ProxyContext } from '../config/proxy-context';
import type { TunnelLimits } from '../cluster/tunnel';
import type { CompletionRecord } from '../exchange/record';
import type { OutboundTarget } from '../routing/types';
import { looksLikeHttp, type ConnectionDivert } from '../tcp/divert';
import type { TcpProxy } from '../tcp/tcp-proxy';
import { looksLikeTls, parseClientHello } from '../tcp/client-hello';
import { originalDestination, originalDstAvailable, originalDstUnavailableReason, type OriginalDestination } from '../tcp/original-dst';

const HTTPS_PORT = 443;

type PortTarget = OutboundTarget | 'ambiguous';

/** Original destinations of the egress port's connections, recorded at accept. */
const recorded = new WeakMap<Socket, OriginalDestination | undefined>();

/**
 * The original destination of a redirected egress connection (HTTP requests included), when the
 * addon read one: lets HTTP routing use the port the app dialled when Host has none.
 */
export function redirectedDestination(socket: Socket): OriginalDestination | undefined {
  return recorded.get(socket);
}

export class TransparentEgress implements ConnectionDivert {
  private readonly byPort = new WeakMap<Snapshot, Map<number, PortTarget>>();

  constructor(
    private readonly ctx: ProxyContext,
    private readonly proxy: TcpProxy,
    /** How long a client may take to send a complete ClientHello. */
    private readonly helloTimeoutMs: number,
    /** Connect and idle limits of connections passed through to destinations outside the mesh. */
    private readonly passthrough: TunnelLimits,
  ) {}

  onAccept(socket: Socket): boolean {
    const snapshot = this.ctx.store.current;
    if (snapshot === undefined) return false;
    const dst = originalDestination(socket);
    recorded.set(socket, dst);
    if (dst === undefined) return false;
    // A mesh TCP service port: join at once, so protocols where the server speaks first work.
    const target = this.tcpTarget(snapshot, dst.port);
    if (target === undefined || target === 'ambiguous') return false;
    this.proxy.toTarget(socket, this.proxy.begin(socket, 'egress'), snapshot, target, Buffer.alloc(0), { listener: 'egress', destination: `${dst.address}:${dst.port}` });
    return true;
  }

  onFirstBytes(socket: Socket, first: Buffer): boolean {
    if (looksLikeHttp(first)) return false;
    const record = this.proxy.begin(socket, 'egress');
    if (looksLikeTls(first)) this.readClientHello(socket, record, first);
    else this.plainTcp(socket, record, first);
    return true;
  }

  private destination(socket: Socket): OriginalDestination | undefined {
    return recorded.has(socket) ? recorded.get(socket) : originalDestination(socket);
  }

  /** Buffers until the ClientHello is complete, then routes by its server name. */
  private readClientHello(socket: Socket, record: CompletionRecord, first: Buffer): void {
    let data = first;
    const decide = (): void => {
      const hello = parseClientHello(data);
      if (hello.kind === 'incomplete') return;
      socket.off('data', more);
      socket.setTimeout(0);
      socket.pause();
      // Bytes that start like TLS but are not a ClientHello are some other protocol.
      if (hello.kind === 'invalid' || hello.serverName === undefined) this.plainTcp(socket, record, data);
      else this.bySni(socket, record, hello.serverName, data);
    };
    const more = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      decide();
    };
    socket.setTimeout(this.helloTimeoutMs, () => socket.destroy());
    // A client may reset while its ClientHello is still arriving: an 'error' without a listener
    // would be thrown as an uncaught exception and take the whole sidecar down.
    socket.on('error', () => socket.destroy());
    socket.on('data', more);
    decide();
  }

  private bySni(socket: Socket, record: CompletionRecord, serverName: string, head: Buffer): void {
    const snapshot = this.ctx.store.current!;
    const dst = this.destination(socket);
    const where = { listener: 'egress', sni: serverName };
    const target = snapshot.routes.outbound(serverName, dst?.port ?? HTTPS_PORT);
    if (target !== undefined) return this.proxy.toTarget(socket, record, snapshot, target, head, where);
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      this.ctx.stats.egressDenied++;
      return this.proxy.refuse(socket, record, 'WEFT_ERR_EGRESS_DENIED', where);
    }
    this.ctx.stats.egressPassthrough++;
    // The app already resolved the name: its original destination is where it meant to go.
    if (dst !== undefined) this.proxy.toAddress(socket, record, dst.address, dst.port, head, this.passthrough, 'WEFT_ERR_UPSTREAM_CONNECT', where);
    else this.proxy.toAddress(socket, record, serverName, HTTPS_PORT, head, this.passthrough, 'WEFT_ERR_UPSTREAM_CONNECT', where);
  }

  private plainTcp(socket: Socket, record: CompletionRecord, head: Buffer): void {
    const dst = this.destination(socket);
    if (dst === undefined) {
      const reason = originalDstAvailable() ? 'the connection was not redirected by iptables' : originalDstUnavailableReason();
      return this.proxy.refuse(socket, record, 'WEFT_ERR_ORIGINAL_DST_UNAVAILABLE', {
        listener: 'egress',
        reason,
        hint: 'transparent plain TCP needs the native/original-dst addon; or list the port in the ProxyConfiguration EgressIgnoredPorts',
      });
    }
    const snapshot = this.ctx.store.current!;
    const where = { listener: 'egress', destination: `${dst.address}:${dst.port}` };
    const target = this.tcpTarget(snapshot, dst.port);
    if (target === 'ambiguous') return this.proxy.refuse(socket, record, 'WEFT_ERR_TCP_LISTENER_AMBIGUOUS', where);
    if (target !== undefined) return this.proxy.toTarget(socket, record, snapshot, target, head, where);
    if (snapshot.config.mesh.egressFilter !== 'ALLOW_ALL') {
      this.ctx.stats.egressDenied++;
      return this.proxy.refuse(socket, record, 'WEFT_ERR_EGRESS_DENIED', where);
    }
    this.ctx.stats.egressPassthrough++;
    this.proxy.toAddress(socket, record, dst.address, dst.port, head, this.passthrough, 'WEFT_ERR_UPSTREAM_CONNECT', where);
  }

  /** The mesh's TCP service listener on `port`, when exactly one service has one there. */
  private tcpTarget(snapshot: Snapshot, port: number): PortTarget | undefined {
    let table = this.byPort.get(snapshot);
    if (table === undefined) {
      table = new Map();
      for (const svc of snapshot.config.outbound.services) {
        for (const l of svc.listeners) {
          if (l.protocol !== 'tcp') continue;
          const target = snapshot.routes.outbound(svc.name, l.port);
          if (target === undefined) continue;
          table.set(l.port, table.has(l.port) ? 'ambiguous' : target);
        }
      }
      this.byPort.set(snapshot, table);
    }
    return table.get(port);
  }
}
