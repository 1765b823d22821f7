/**
 * Traffic mirroring of one route (Istio's `mirror`, Envoy's request mirror policy): a share of
 * the route's requests, drawn from the sidecar's random source, is copied to another cluster,
 * fire and forget. The copy's Host gets Envoy's `-shadow` suffix (`orders:8080` becomes
 * `orders-shadow:8080`), so the mirror can tell copies from traffic.
 *
 * Nothing of the copy reaches the client: its response is read and thrown away, its errors and
 * slowness are only counted, and the client's request goes on as if there were no mirror. The copy
 * is bounded every way it could grow:
 * - in flight: at most {@link MIRROR_MAX_IN_FLIGHT} copies per mirror cluster (and the cluster's
 *   own circuit breaker); a copy over either is not sent, and counted as dropped;
 * - in time: a copy is cancelled after the route's timeout, or {@link MIRROR_DEFAULT_TIMEOUT_MS}
 *   when the route has none, so a mirror that never answers frees its slot;
 * - in memory: a request body is copied only up to {@link MIRROR_BODY_LIMIT} bytes (BodyReplay);
 *   a body that says it is larger is not mirrored, and one that grows past the limit cuts its copy
 *   (both counted as `bodyTooLarge`); upgrade requests (WebSocket) are never mirrored.
 *
 * A copy makes no completion record of its own: the client's request has one, and what came of the
 * copies is in the mirror cluster's counters ({@link mirrorStats}, shown by the admin port).
 */
import type { Duplex } from 'node:stream';
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import type { FailureKind } from '../cluster/upstream-errors';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import type { GrpcRoute, HttpRoute } from '../contracts/node-config';
import { clusterDispatch } from '../exchange/attempt';
import { BodyReplay } from '../exchange/body-replay';
import { CompletionRecord } from '../exchange/record';
import { ProxyRequest, type Dispatch, type Layer, type ResponseHandler } from '../exchange/stack';
import type { OutgoingHeaders } from '../message/headers';

/** Copies in flight per mirror cluster, at most. */
export const MIRROR_MAX_IN_FLIGHT = 64;
/** Largest request body copied to a mirror, bytes. */
export const MIRROR_BODY_LIMIT = 64 * 1024;
/** A copy's deadline when its route has no timeout (Envoy's default route timeout). */
export const MIRROR_DEFAULT_TIMEOUT_MS = 15_000;

/** What came of the copies sent to one mirror cluster. */
export interface MirrorStats {
  /** Copies sent. */
  sent: number;
  /** Copies in flight now (never above {@link MIRROR_MAX_IN_FLIGHT}). */
  inFlight: number;
  /** Copies not sent: the cap or the cluster's circuit breaker was full. */
  dropped: number;
  /** Copies not sent or cut because the request body was over {@link MIRROR_BODY_LIMIT}. */
  bodyTooLarge: number;
  /** Copies the mirror answered (any status). */
  answered: number;
  /** Copies that failed (connect, reset, timeout, no endpoint). */
  failed: number;
}

/** Counters per mirror cluster runtime: shared by every route that mirrors to it, gone with it. */
const STATS = new WeakMap<ClusterRuntime, MirrorStats>();

/** The mirror counters of `cluster`, or undefined when nothing ever mirrored to it. */
export function mirrorStats(cluster: ClusterRuntime): MirrorStats | undefined {
  return STATS.get(cluster);
}

function statsFor(cluster: ClusterRuntime): MirrorStats {
  let s = STATS.get(cluster);
  if (s === undefined) STATS.set(cluster, (s = { sent: 0, inFlight: 0, dropped: 0, bodyTooLarge: 0, answered: 0, failed: 0 }));
  return s;
}

/** Envoy's shadow host: `-shadow` after the host name, before any port. */
export function shadowHost(host: string): string {
  const colon = host.lastIndexOf(':');
  // A port follows the last colon unless that colon is inside an IPv6 literal.
  if (colon > 0 && host.indexOf(']') < colon && (host.startsWith('[') || host.indexOf(':') === colon)) return `${host.slice(0, colon)}-shadow${host.slice(colon)}`;
  return `${host}-shadow`;
}

/** The mirror layer of `route`, or undefined when it mirrors nothing. */
export function mirrorLayer(route: HttpRoute | GrpcRoute, clusters: ReadonlyMap<string, ClusterRuntime>, random: () => number): Layer | undefined {
  const mirror = route.mirror;
  if (mirror === undefined || mirror.percentage <= 0) return undefined;
  const cluster = clusters.get(mirror.cluster);
  // The parser refuses a mirror to an unknown cluster; nothing to copy to otherwise.
  if (cluster === undefined) return undefined;
  const stats = statsFor(cluster);
  const timeoutMs = route.timeout.perRequestMs > 0 ? route.timeout.perRequestMs : MIRROR_DEFAULT_TIMEOUT_MS;
  const percentage = mirror.percentage;
  return (next: Dispatch): Dispatch =>
    (req, handler) => {
      if (req.upgrade === undefined && random() * 100 < percentage) sendCopy(req, cluster, stats, timeoutMs);
      next(req, handler);
    };
}

function sendCopy(req: ProxyRequest, cluster: ClusterRuntime, stats: MirrorStats, timeoutMs: number): void {
  if (stats.inFlight >= MIRROR_MAX_IN_FLIGHT) {
    stats.dropped++;
    return;
  }
  let body = null;
  let replay: BodyReplay | undefined;
  if (req.body !== null) {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > MIRROR_BODY_LIMIT) {
      stats.bodyTooLarge++;
      return;
    }
    // Both the client's request and the copy read the body from here on.
    replay = new BodyReplay(req.body, MIRROR_BODY_LIMIT);
    req.body = replay.reader()!;
    body = replay.reader(true)!;
  }
  const headers: OutgoingHeaders = { ...req.headers };
  const host = headers.host;
  if (typeof host === 'string') headers.host = shadowHost(host);
  if (cluster.meshPeers) headers[CONTROL_HEADERS.targetPort] = String(cluster.def.port);
  else delete headers[CONTROL_HEADERS.targetPort];
  const primary = req.record;
  const record = new CompletionRecord('http', primary.listener, primary.peerAddress, { authenticated: false, principal: primary.peerPrincipal, encrypted: false });
  const copy = new ProxyRequest(req.method, req.path, headers, body, undefined, req.pick, record);
  copy.cluster = cluster;
  stats.sent++;
  stats.inFlight++;
  const bodyCut = replay === undefined ? undefined : () => {
    if (replay.bytes > MIRROR_BODY_LIMIT) stats.bodyTooLarge++;
  };
  new MirrorCopy(copy, stats, bodyCut).start(timeoutMs);
}

/** One copy in flight: reads and drops the mirror's answer, counts how it ended, frees its slot once. */
class MirrorCopy implements ResponseHandler {
  private timer: NodeJS.Timeout | undefined;
  private over = false;

  constructor(
    private readonly req: ProxyRequest,
    private readonly stats: MirrorStats,
    private readonly onBodyCut: (() => void) | undefined,
  ) {}

  start(timeoutMs: number): void {
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    const body = this.req.body;
    // A copy's body cut at the limit is counted; the attempt sees the error and ends the copy.
    if (body !== null && this.onBodyCut !== undefined) body.once('error', this.onBodyCut);
    clusterDispatch(this.req, this);
  }

  onHeaders(): boolean {
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    if (this.end()) this.stats.answered++;
  }

  onUpgrade(_status: number, _raw: readonly (Buffer | string)[], socket: Duplex, done: () => void): void {
    socket.destroy();
    done();
    if (this.end()) this.stats.answered++;
  }

  onError(_kind: FailureKind): void {
    if (this.end()) {
      this.stats.failed++;
      // The copy's body may still be waiting for the client's: let it go.
      this.req.body?.destroy();
    }
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    const cancel = this.req.cancel;
    if (cancel !== undefined) cancel('timeout');
    else this.onError('timeout');
  };

  /** True the first time: the copy is over. */
  private end(): boolean {
    if (this.over) return false;
    this.over = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stats.inFlight--;
    return true;
  }
}
