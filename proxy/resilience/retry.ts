/**
 * The retry layer of a route's stack: Envoy's router retries, as App Mesh and Istio configure
 * them. A try that fails in a way the route's policy names is tried again, on another endpoint
 * when the cluster has one, after a fully jittered exponential backoff, while retries are left,
 * the route timeout (the responder's, over all tries) has not passed, no response byte has gone to
 * the client, the body can be sent again, and the cluster's retry budget allows it.
 *
 * Every compiled route carries a retry policy (the mesh default when the user wrote none), so
 * this is on the path of nearly every request: with no failure it costs one small object per
 * request and no buffering of bodiless requests, and it arms no per-try timer when the per-try
 * timeout is not shorter than the route timeout (the compiler's default policy).
 */
import type { Duplex, Readable } from 'node:stream';
import type { FailureKind } from '../cluster/upstream-errors';
import type { GrpcRoute, HttpRoute, RetryPolicy } from '../contracts/node-config';
import type { Endpoint } from '../endpoints/endpoint';
import { BodyReplay } from '../exchange/body-replay';
import { RESPONSE_FLAGS } from '../exchange/record';
import type { AttemptOutcome, Dispatch, Layer, ProxyRequest, ResponseHandler, RouteLayerFactory } from '../exchange/stack';

export interface RetrySettings {
  /** Request bodies up to this many bytes are kept to be sent again; larger ones are sent once and never retried. */
  readonly bufferBytes: number;
  /** The sidecar's random source (WEFT_RANDOM_SEED), for the backoff's jitter. */
  readonly random: () => number;
}

/** Failures that come from above (the responder), not from the try: never retried. */
const ENDS_THE_REQUEST: ReadonlySet<FailureKind> = new Set<FailureKind>(['timeout', 'client-gone', 'body-too-large']);

/** gRPC status codes of the gRPC retry events. */
const GRPC_CODES: Record<RetryPolicy['grpcRetryEvents'][number], number> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

/**
 * A route's policy as the layer reads it: which statuses, failures and gRPC codes are retried.
 * App Mesh's events are Envoy's retry-on conditions (docs/contracts.md, "Retry events"):
 * `server-error` is `5xx` (any 5xx, or no response: connect failure, reset, per-try timeout);
 * `gateway-error` is 502/503/504, a connect failure or a per-try timeout; `client-error` is
 * `retriable-4xx` (409); `stream-error` is `reset` and `refused-stream`; `connection-error` is
 * `connect-failure` and `reset`; `retriableStatusCodes` is `retriable-status-codes`.
 */
export interface RetryPlan {
  readonly maxRetries: number;
  /** 0: no per-try timer (the route timeout alone bounds each try). */
  readonly perTryMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Indexed by status: retried. */
  readonly statuses: readonly boolean[];
  readonly failures: ReadonlySet<FailureKind>;
  /** gRPC codes retried when a trailers-only response carries them. */
  readonly grpcCodes: ReadonlySet<number>;
}

export function retryPlan(policy: RetryPolicy, routeTimeoutMs: number): RetryPlan {
  const statuses: boolean[] = new Array<boolean>(600).fill(false);
  const failures = new Set<FailureKind>();
  const http = new Set(policy.httpRetryEvents);
  const tcp = new Set(policy.tcpRetryEvents);
  const mark = (from: number, to: number) => {
    for (let s = from; s <= to; s++) statuses[s] = true;
  };
  const fail = (...kinds: FailureKind[]) => kinds.forEach((k) => failures.add(k));
  if (http.has('server-error')) {
    mark(500, 599);
    fail('connect', 'tls', 'reset', 'protocol', 'try-timeout');
  }
  if (http.has('gateway-error')) {
    mark(502, 504);
    fail('connect', 'tls', 'try-timeout');
  }
  if (http.has('client-error')) statuses[409] = true;
  if (http.has('stream-error')) fail('reset', 'protocol');
  if (tcp.has('connection-error')) fail('connect', 'tls', 'reset');
  for (const s of policy.retriableStatusCodes) statuses[s] = true;
  const perTry = policy.perTryTimeoutMs;
  return {
    maxRetries: policy.maxRetries,
    // A per-try timeout at or past the route timeout never fires first: no timer is armed for it.
    perTryMs: perTry > 0 && (routeTimeoutMs === 0 || perTry < routeTimeoutMs) ? perTry : 0,
    backoffBaseMs: policy.backoffBaseMs,
    backoffMaxMs: policy.backoffMaxMs,
    statuses,
    failures,
    grpcCodes: new Set(policy.grpcRetryEvents.map((e) => GRPC_CODES[e])),
  };
}

/**
 * The retry layer of each route whose policy retries (`maxRetries` > 0). A route with a fault gets
 * none: as in Istio, faults switch a route's retries and timeout off.
 */
export function retryLayerFactory(settings: RetrySettings): RouteLayerFactory {
  return (route: HttpRoute | GrpcRoute) => {
    if (route.fault !== undefined || route.retryPolicy.maxRetries === 0) return undefined;
    const plan = retryPlan(route.retryPolicy, route.timeout.perRequestMs);
    const layer: Layer = (next) => (req, handler) => {
      // Upgrades become tunnels, and requests without a cluster have no endpoint to try again.
      if (req.upgrade !== undefined || req.cluster === undefined) return next(req, handler);
      new RetryingExchange(plan, settings, next, req, handler).start();
    };
    return layer;
  };
}

/** One request through the retry layer: its tries, and the events it lets up to the client. */
class RetryingExchange implements ResponseHandler {
  private retriesLeft: number;
  private retriesDone = 0;
  /** The body kept for another try; undefined for a bodiless request or one sent once. */
  private replay: BodyReplay | undefined;
  /** True when the request can be sent again (bodiless, or its body is kept). */
  private replayable: boolean;
  private lastEndpoint: Endpoint | undefined;
  /** This try's response was judged retriable: its events are dropped, and another try follows. */
  private discarding = false;
  /** A response head went up to the client: nothing is retried after that. */
  private committed = false;
  /** The try in flight is a retry and holds one of the cluster's retry slots. */
  private holdsSlot = false;
  /** A slot taken for the next try, not sent yet (backoff). */
  private nextSlot = false;
  private tryTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly plan: RetryPlan,
    private readonly settings: RetrySettings,
    private readonly next: Dispatch,
    private readonly req: ProxyRequest,
    private readonly handler: ResponseHandler,
  ) {
    this.retriesLeft = plan.maxRetries;
    this.replayable = req.body === null;
  }

  start(): void {
    const req = this.req;
    req.reportAttempts = true;
    const body = req.body;
    if (body !== null) {
      const declared = Number(req.pick.headers['content-length'] ?? -1);
      // A body declared larger than the limit is sent once, streamed straight through.
      if (declared <= this.settings.bufferBytes) {
        this.replay = new BodyReplay(body, this.settings.bufferBytes);
        const reader = this.replay.reader();
        if (reader !== undefined) {
          req.body = reader;
          this.replayable = true;
        }
      }
    }
    this.send();
  }

  private send(): void {
    this.discarding = false;
    if (this.plan.perTryMs > 0) this.tryTimer = setTimeout(this.onTryTimeout, this.plan.perTryMs);
    this.next(this.req, this);
  }

  private readonly onTryTimeout = (): void => {
    this.tryTimer = undefined;
    this.req.cancel?.('try-timeout');
  };

  // --- Events of the try in flight ---

  onHeaders(status: number, raw: readonly (Buffer | string)[], resume: () => void, statusText: string, endStream: boolean): boolean {
    if (this.discarding) return true;
    const plan = this.plan;
    const retriable = plan.statuses[status] === true || (endStream && plan.grpcCodes.size > 0 && plan.grpcCodes.has(grpcStatusOf(raw)));
    if (retriable && this.takeRetry()) {
      // Drop this response (it was never the client's) and try again once it has ended.
      this.discarding = true;
      return true;
    }
    this.committed = true;
    return this.handler.onHeaders(status, raw, resume, statusText, endStream);
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    return this.handler.onData(chunk);
  }

  onComplete(trailers: readonly (Buffer | string)[] | null): void {
    this.tryOver();
    if (this.discarding) return this.retry();
    this.handler.onComplete(trailers);
  }

  onUpgrade(status: number, raw: readonly (Buffer | string)[], socket: Duplex, done: () => void): void {
    this.tryOver();
    this.handler.onUpgrade(status, raw, socket, done);
  }

  onError(kind: FailureKind): void {
    this.tryOver();
    if (ENDS_THE_REQUEST.has(kind)) {
      // The route timeout, the client leaving or an oversized body end the request even while a
      // discarded response was awaiting its retry.
      this.releaseNextSlot();
      this.handler.onError(kind);
      return;
    }
    if (this.discarding) return this.retry();
    if (!this.committed && this.plan.failures.has(kind) && this.takeRetry()) return this.retry();
    this.handler.onError(kind);
  }

  onOutcome(outcome: AttemptOutcome): void {
    this.lastEndpoint = outcome.endpoint;
    this.handler.onOutcome?.(outcome);
  }

  // --- Retrying ---

  /** Whether another try may follow this one; takes its slot of the cluster's retry budget. */
  private takeRetry(): boolean {
    const record = this.req.record;
    if (this.retriesLeft === 0 || !this.replayable) {
      record.flag(RESPONSE_FLAGS.retryLimitExceeded);
      return false;
    }
    if (!this.req.cluster!.beginRetry()) {
      record.flag(RESPONSE_FLAGS.retryLimitExceeded);
      return false;
    }
    this.retriesLeft--;
    this.nextSlot = true;
    return true;
  }

  /** The try in flight ended: its timer and its retry slot go. */
  private tryOver(): void {
    if (this.tryTimer !== undefined) {
      clearTimeout(this.tryTimer);
      this.tryTimer = undefined;
    }
    if (this.holdsSlot) {
      this.holdsSlot = false;
      this.req.cluster!.endRetry();
    }
  }

  /** Waits out the backoff, then sends the next try, to another endpoint when there is one. */
  private retry(): void {
    const req = this.req;
    if (this.replay !== undefined) {
      const reader: Readable | undefined = this.replay.reader();
      if (reader === undefined) {
        // The body outgrew the limit after the decision: the try cannot be repeated.
        this.releaseNextSlot();
        this.handler.onError('reset');
        return;
      }
      req.body = reader;
    }
    if (this.lastEndpoint !== undefined) req.pick.exclude = this.lastEndpoint;
    this.retriesDone++;
    // Fully jittered exponential backoff: retry N waits a random time in [0, (2^N - 1) x base), capped.
    const ceiling = Math.min(this.plan.backoffMaxMs, this.plan.backoffBaseMs * (2 ** this.retriesDone - 1));
    const wait = Math.floor(this.settings.random() * ceiling);
    req.cancel = this.cancelBackoff;
    this.backoffTimer = setTimeout(this.afterBackoff, wait);
  }

  private readonly afterBackoff = (): void => {
    this.backoffTimer = undefined;
    if (this.req.cancel === this.cancelBackoff) this.req.cancel = undefined;
    this.holdsSlot = this.nextSlot;
    this.nextSlot = false;
    this.send();
  };

  /** The route timeout passed or the client left while waiting to retry. */
  private readonly cancelBackoff = (kind: FailureKind): void => {
    if (this.backoffTimer === undefined) return;
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.req.cancel = undefined;
    this.releaseNextSlot();
    this.handler.onError(kind);
  };

  private releaseNextSlot(): void {
    if (!this.nextSlot) return;
    this.nextSlot = false;
    this.req.cluster!.endRetry();
  }
}

/** The `grpc-status` of a trailers-only response's header list; -1 when absent. */
function grpcStatusOf(raw: readonly (Buffer | string)[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toString().toLowerCase() === 'grpc-status') return Number(raw[i + 1].toString());
  }
  return -1;
}
