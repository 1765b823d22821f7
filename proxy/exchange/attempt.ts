/**
 * One try: one request to one endpoint over its pool, and what came of it. The attempt passes the
 * response events up the stack, and reports its outcome (status, failure, timings, bytes) to the
 * endpoint's cluster and to the stack's handler when it is over. It knows nothing of the client.
 */
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ClusterRuntime } from '../cluster/cluster-runtime';
import type { H2AwareHandler, Upstream } from '../cluster/h2-upstream';
import { classifyUpstreamError, type FailureKind, UpstreamError } from '../cluster/upstream-errors';
import type { Endpoint } from '../endpoints/endpoint';
import type { AttemptOutcome, Dispatch, ProxyRequest, ResponseHandler } from './stack';

/** Why the data path itself ended an attempt (not the upstream). */
class Cancelled extends UpstreamError {
  constructor(readonly kind: FailureKind) {
    super(`attempt cancelled: ${kind}`, 'WEFT_CANCELLED');
  }
}

export class Attempt implements H2AwareHandler, AttemptOutcome {
  status = 0;
  failure: FailureKind | undefined = undefined;
  readonly startedAt = performance.now();
  endedAt = 0;
  responseBytes = 0;
  private abortFn: ((err?: Error) => void) | undefined;
  private pendingCancel: Cancelled | undefined;
  private connected = false;
  private over = false;

  constructor(
    private readonly req: ProxyRequest,
    private readonly handler: ResponseHandler,
    private readonly cluster: ClusterRuntime | undefined,
    readonly endpoint: Endpoint | undefined,
    /** This attempt is already the one transparent re-pick its request may have. */
    private readonly repicked = false,
  ) {}

  /** Sends the request on `upstream`. */
  start(upstream: Upstream): void {
    const { req, cluster, endpoint } = this;
    const record = req.record;
    record.attempts++;
    if (cluster !== undefined && endpoint !== undefined) {
      cluster.begin(endpoint);
      record.cluster = cluster.name;
      record.endpoint = `${endpoint.address}:${endpoint.port}`;
    }
    req.cancel = this.cancel;
    const options: Dispatcher.DispatchOptions = { path: req.path, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body };
    if (req.upgrade !== undefined) options.upgrade = req.upgrade;
    try {
      upstream.dispatch(options, this);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Ends the attempt from above (timeout, client gone, body too large). */
  private readonly cancel = (kind: FailureKind): void => {
    if (this.over) return;
    const reason = new Cancelled(kind);
    if (this.abortFn) this.abortFn(reason);
    else {
      // Still queued in the pool: end it now; the pool's connection is cancelled when it comes.
      this.pendingCancel = reason;
      this.onError(reason);
    }
  };

  onConnect(abort: (err?: Error) => void): void {
    this.connected = true;
    this.abortFn = abort;
    if (this.pendingCancel) abort(this.pendingCancel);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[], resume: () => void, statusText: string, endStream = false): boolean {
    if (this.over) return false;
    // 1xx other than 101 are not relayed; the final response follows.
    if (statusCode < 200) return true;
    this.status = statusCode;
    const record = this.req.record;
    if (record.upstreamMs < 0) record.upstreamMs = performance.now() - record.start;
    return this.handler.onHeaders(statusCode, rawHeaders, resume, statusText, endStream);
  }

  onData(chunk: Buffer): boolean {
    if (this.over) return false;
    this.responseBytes += chunk.length;
    return this.handler.onData(chunk);
  }

  onComplete(trailers?: string[] | Buffer[] | null): void {
    if (this.over) return;
    this.end(undefined);
    this.report();
    this.handler.onComplete(trailers ?? null);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    if (this.over) {
      socket.destroy();
      return;
    }
    this.status = statusCode;
    this.over = true;
    // The tunnel stays in flight on its endpoint until it closes.
    this.handler.onUpgrade(statusCode, rawHeaders ?? [], socket, () => {
      this.endedAt = performance.now();
      if (this.cluster !== undefined && this.endpoint !== undefined) this.cluster.end(this.endpoint);
      this.report();
    });
  }

  onError(err: Error): void {
    if (this.over) return;
    const kind = err instanceof Cancelled ? err.kind : classifyUpstreamError(err, this.connected ? 'connected' : 'connecting');
    this.end(kind);
    const stats = this.cluster?.stats;
    if (stats !== undefined) {
      if (kind === 'timeout' || kind === 'try-timeout') stats.timeouts++;
      else if (kind === 'connect' || kind === 'tls') {
        stats.connectFailures++;
        if (kind === 'tls') {
          stats.tlsFailures++;
          this.cluster?.onTlsFailure?.(this.endpoint === undefined ? '' : `${this.endpoint.address}:${this.endpoint.port}`, err.message);
        }
      }
    }
    this.report();
    if (kind === 'connect' && this.repick()) return;
    this.handler.onError(kind);
  }

  /**
   * A request whose connect failed never left this sidecar, so it goes once to another endpoint
   * without being a retry (gRPC's transparent retry; Linkerd only sends to endpoints it is
   * connected to): the endpoint that refused has just left rotation (the cluster's connect-failure
   * state), so without this every request already on its way there would need a slot of the retry
   * budget. Only for a request without a body (a body stream may have been read) and not an upgrade.
   */
  private repick(): boolean {
    const { cluster, req } = this;
    if (this.repicked || cluster === undefined || req.body !== null || req.upgrade !== undefined) return false;
    const next = cluster.pick(req.pick);
    if (next === undefined || next === this.endpoint || cluster.overloaded(next)) return false;
    new Attempt(req, this.handler, cluster, next, true).start(cluster.pool(next));
    return true;
  }

  private end(failure: FailureKind | undefined): void {
    this.over = true;
    this.failure = failure;
    this.endedAt = performance.now();
    if (this.req.cancel === this.cancel) this.req.cancel = undefined;
    if (this.cluster !== undefined && this.endpoint !== undefined) this.cluster.end(this.endpoint, this.status);
  }

  private report(): void {
    if (this.cluster !== undefined && this.endpoint !== undefined) this.cluster.reportOutcome(this);
    this.handler.onOutcome?.(this);
  }
}

/**
 * The bottom of a mesh route's stack: the request's cluster picks an endpoint, its circuit
 * breaker may refuse, and one attempt carries the request on the endpoint's pool.
 */
export const clusterDispatch: Dispatch = (req, handler) => {
  const cluster = req.cluster!;
  const endpoint = cluster.pick(req.pick);
  if (endpoint === undefined) {
    cluster.stats.noEndpoint++;
    handler.onError('no-endpoint');
    return;
  }
  if (cluster.overloaded(endpoint)) {
    cluster.stats.overflow++;
    handler.onError('overflow');
    return;
  }
  new Attempt(req, handler, cluster, endpoint).start(req.upgrade !== undefined ? cluster.upgradePool(endpoint) : cluster.pool(endpoint));
};

/** The bottom of a stack without a cluster: one attempt on a fixed upstream (the local app, a destination outside the mesh). */
export function upstreamDispatch(upstream: Upstream): Dispatch {
  return (req, handler) => new Attempt(req, handler, undefined, undefined).start(upstream);
}
