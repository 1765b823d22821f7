/**
 * Fault injection of one route (Istio's `fault`, Envoy's fault filter): a share of requests is
 * held for a fixed delay, a share is answered by the sidecar with an error instead of being sent,
 * each drawn from the sidecar's random source (`WEFT_RANDOM_SEED` makes the draws repeatable).
 * The delay comes first, then the abort, as in Envoy. An HTTP abort answers the configured
 * status; a gRPC abort (a gRPC route, or an HTTP route that names only a gRPC status) answers a
 * trailers-only response carrying `grpc-status`. The completion record gets Envoy's flags: `DI`
 * when a delay was injected, `FI` when an abort was.
 *
 * Istio's rule, kept here: a route with a fault has no route timeout (proxy/http/pipeline.ts)
 * and no retries (proxy/config/config-store.ts buildStacks gives it no retry layer), so a delay is
 * never cut by the timeout and an abort is never retried away.
 */
import type { FailureKind } from '../cluster/upstream-errors';
import type { Fault, GrpcRoute, HttpRoute } from '../contracts/node-config';
import { RESPONSE_FLAGS } from '../exchange/record';
import type { Dispatch, Layer, ProxyRequest, ResponseHandler } from '../exchange/stack';
import { grpcStatusForHttp } from '../message/grpc';

/** What an injected abort answers (Envoy's body text). */
const ABORT_BODY = Buffer.from('fault filter abort');
const noResume = (): void => undefined;

/** How an abort answers, worked out once per route. */
interface CompiledAbort {
  percentage: number;
  /** Set: answer a gRPC trailers-only response with this status. */
  grpcStatus: number | undefined;
  /** Answer this HTTP status (when grpcStatus is unset). */
  httpStatus: number;
  /** Response head, built once per route. */
  head: readonly string[];
}

function compileAbort(route: HttpRoute | GrpcRoute, abort: NonNullable<Fault['abort']>): CompiledAbort | undefined {
  let grpcStatus: number | undefined;
  if (route.protocol === 'grpc') grpcStatus = abort.grpcStatus ?? (abort.httpStatus === undefined ? undefined : grpcStatusForHttp(abort.httpStatus));
  else if (abort.httpStatus === undefined) grpcStatus = abort.grpcStatus;
  // Neither status: nothing to answer with (the model validator refuses this; the contract allows it).
  if (grpcStatus === undefined && abort.httpStatus === undefined) return undefined;
  const head =
    grpcStatus !== undefined
      ? ['content-type', 'application/grpc', 'grpc-status', String(grpcStatus), 'grpc-message', ABORT_BODY.toString()]
      : ['content-type', 'text/plain', 'content-length', String(ABORT_BODY.length)];
  return { percentage: abort.percentage, grpcStatus, httpStatus: abort.httpStatus ?? 200, head };
}

/** Answers `handler` with the injected abort, as an upstream response would arrive. */
function answerAbort(abort: CompiledAbort, handler: ResponseHandler): void {
  if (abort.grpcStatus !== undefined) {
    // Trailers-only: one HEADERS frame with END_STREAM carries the status.
    handler.onHeaders(200, abort.head, noResume, 'OK', true);
    handler.onComplete(null);
    return;
  }
  handler.onHeaders(abort.httpStatus, abort.head, noResume, '', false);
  handler.onData(ABORT_BODY);
  handler.onComplete(null);
}

/** The fault layer of `route`, or undefined when it has no fault that does anything. */
export function faultLayer(route: HttpRoute | GrpcRoute, random: () => number): Layer | undefined {
  const fault = route.fault;
  if (fault === undefined) return undefined;
  const delay = fault.delay !== undefined && fault.delay.percentage > 0 && fault.delay.fixedDelayMs > 0 ? fault.delay : undefined;
  const abort = fault.abort !== undefined && fault.abort.percentage > 0 ? compileAbort(route, fault.abort) : undefined;
  if (delay === undefined && abort === undefined) return undefined;

  return (next: Dispatch): Dispatch => {
    const afterDelay = (req: ProxyRequest, handler: ResponseHandler): void => {
      if (abort !== undefined && random() * 100 < abort.percentage) {
        req.record.flag(RESPONSE_FLAGS.faultInjectedAbort);
        answerAbort(abort, handler);
        return;
      }
      next(req, handler);
    };
    if (delay === undefined) return afterDelay;
    return (req, handler) => {
      if (!(random() * 100 < delay.percentage)) return afterDelay(req, handler);
      req.record.flag(RESPONSE_FLAGS.delayInjected);
      new DelayedRequest(req, handler, afterDelay).start(delay.fixedDelayMs);
    };
  };
}

/**
 * A request held for the injected delay. While it waits, the request's `cancel` is the delay's:
 * the client leaving (or its gRPC deadline) ends it at once, with its timer cleared, and the
 * responder writes the one record.
 */
class DelayedRequest {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly req: ProxyRequest,
    private readonly handler: ResponseHandler,
    private readonly then: Dispatch,
  ) {}

  start(ms: number): void {
    this.req.cancel = this.cancel;
    this.timer = setTimeout(this.fire, ms);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.req.cancel === this.cancel) this.req.cancel = undefined;
    this.then(this.req, this.handler);
  };

  private readonly cancel = (kind: FailureKind): void => {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.req.cancel = undefined;
    this.handler.onError(kind);
  };
}
