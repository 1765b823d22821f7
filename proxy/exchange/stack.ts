/**
 * The seams of the HTTP data path, in undici's dispatcher/interceptor shape (and linkerd2-proxy's
 * stacks): a request travels down a route's stack of {@link Layer}s, compiled once per config
 * snapshot, to the bottom {@link Dispatch} that makes one {@link Attempt} per try; response events
 * travel back up through the layers' handlers to the {@link Responder}, which writes the client's
 * response once. A layer (retries, faults, mirroring) wraps `next` and the handler it passes
 * down; it can re-dispatch, replay the body, or answer itself.
 */
import type { Duplex, Readable } from 'node:stream';
import type { PickContext } from '../balancer/balancer';
import type { ClusterRuntime, EndpointOutcome } from '../cluster/cluster-runtime';
import type { FailureKind } from '../cluster/upstream-errors';
import type { GrpcRoute, HttpRoute, NodeConfig } from '../contracts/node-config';
import type { OutgoingHeaders } from '../message/headers';
import type { CompletionRecord } from './record';

/** What one attempt came to: reported to its endpoint's cluster and up the stack. */
export type AttemptOutcome = EndpointOutcome;

/** Response events, from the attempt up through the layers to the responder. */
export interface ResponseHandler {
  /** `raw` is the upstream's header list; `endStream`: HTTP/2 HEADERS ended the response (gRPC trailers-only). Return false to pause. */
  onHeaders(status: number, raw: readonly (Buffer | string)[], resume: () => void, statusText: string, endStream: boolean): boolean;
  /** Return false to pause the upstream until `resume`. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: readonly (Buffer | string)[] | null): void;
  /** The upstream answered an upgrade with 101; `socket` is the upstream's byte stream. `done` is called when the tunnel closes. */
  onUpgrade(status: number, raw: readonly (Buffer | string)[], socket: Duplex, done: () => void): void;
  onError(kind: FailureKind): void;
  /**
   * Each attempt's outcome, just before its final event (`onComplete`, `onError`; for an upgrade,
   * when the tunnel closes), so a layer that decides on that event (a retry) already knows it.
   */
  onOutcome?(outcome: AttemptOutcome): void;
}

/** A request on its way to an upstream, as every layer sees it. */
export class ProxyRequest {
  /** The cluster the route chose (undefined for the local app and destinations outside the mesh). */
  cluster: ClusterRuntime | undefined = undefined;
  /** Cancels the attempt in flight (set by the attempt, called on timeout or when the client leaves). */
  cancel: ((kind: FailureKind) => void) | undefined = undefined;
  /** The response tells the client how many tries it took (`x-weft-attempt-count`); set by the retry layer. */
  reportAttempts = false;

  constructor(
    readonly method: string,
    public path: string,
    readonly headers: OutgoingHeaders,
    /** The body, read once; a layer that must send it twice replays it (body-replay.ts). */
    public body: Readable | null,
    /** The Upgrade token of an upgrade request (WebSocket), else undefined. */
    readonly upgrade: string | undefined,
    /** What a balancer may look at. */
    readonly pick: PickContext,
    readonly record: CompletionRecord,
  ) {}
}

export type Dispatch = (req: ProxyRequest, handler: ResponseHandler) => void;

/** A step of a route's stack: given the rest of the stack, how this route sends a request. */
export type Layer = (next: Dispatch) => Dispatch;

/**
 * Makes the layers one route needs (none, when it needs none: the route then costs nothing
 * here). Called once per route when a config snapshot is built.
 */
export type RouteLayerFactory = (route: HttpRoute | GrpcRoute, config: NodeConfig) => Layer | undefined;

/** The layers over `bottom`, the first factory's outermost. */
export function compose(layers: readonly Layer[], bottom: Dispatch): Dispatch {
  let dispatch = bottom;
  for (let i = layers.length - 1; i >= 0; i--) dispatch = layers[i](dispatch);
  return dispatch;
}
