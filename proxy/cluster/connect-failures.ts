/**
 * A cluster's connect-failure state of its endpoints (gRPC's TRANSIENT_FAILURE, Linkerd's failure
 * accrual): an endpoint whose connect just failed (refused, unreachable, connect timeout) leaves
 * rotation at once, so that the requests after it do not each meet the same refusal and lean on the
 * retry budget; a reconnect with backoff, made by the sidecar itself and not by a request, brings
 * it back. Without this, an endpoint that has stopped listening (a peer draining, a task gone
 * before discovery says so) stays in rotation until discovery or outlier detection remove it.
 *
 * State is bounded: a counter on each endpoint, and one timer and at most one probe connection per
 * failing endpoint. A request pays one comparison; nothing is allocated per request.
 */
import { connect, type Socket } from 'node:net';
import { CONNECT_FAILING, type Endpoint, type HealthBit } from '../endpoints/endpoint';

/** gRPC's connection backoff (connection-backoff.md): first wait, growth, jitter share and cap. */
export const RECONNECT_INITIAL_MS = 1_000;
const RECONNECT_MULTIPLIER = 1.6;
const RECONNECT_JITTER = 0.2;
export const RECONNECT_MAX_MS = 120_000;

/** What the tracker needs of its cluster. */
export interface ConnectFailureHost {
  setHealth(endpoint: Endpoint, bit: HealthBit, unhealthy: boolean): void;
  readonly random: () => number;
  readonly connectTimeoutMs: number;
}

interface Reconnect {
  timer: NodeJS.Timeout | undefined;
  probe: Socket | undefined;
  /** When the next reconnect is due (ms, monotonic clock), for the admin output. */
  dueAt: number;
}

export class ConnectFailures {
  /** Failing endpoints only: at most one entry per endpoint of the cluster. */
  private readonly failing = new Map<Endpoint, Reconnect>();
  private closed = false;

  constructor(private readonly host: ConnectFailureHost) {}

  /** A connect to `endpoint` failed: out of rotation, and reconnects begin (if not already). */
  failed(endpoint: Endpoint): void {
    if (this.closed) return;
    endpoint.connectFailures = (endpoint.connectFailures ?? 0) + 1;
    if (this.failing.has(endpoint)) return;
    const state: Reconnect = { timer: undefined, probe: undefined, dueAt: 0 };
    this.failing.set(endpoint, state);
    this.host.setHealth(endpoint, CONNECT_FAILING, true);
    this.schedule(endpoint, state);
  }

  /** A connection to `endpoint` was made (by a request or a reconnect): back in rotation, backoff reset. */
  connected(endpoint: Endpoint): void {
    endpoint.connectFailures = 0;
    const state = this.failing.get(endpoint);
    if (state === undefined) return;
    this.stop(endpoint, state);
    this.host.setHealth(endpoint, CONNECT_FAILING, false);
  }

  /** Discovery removed these endpoints: their reconnects stop. */
  removed(endpoints: Iterable<Endpoint>): void {
    for (const e of endpoints) {
      const state = this.failing.get(e);
      if (state !== undefined) this.stop(e, state);
    }
  }

  /** For the admin `/clusters` output. */
  describe(endpoint: Endpoint): Record<string, unknown> | undefined {
    const failures = endpoint.connectFailures ?? 0;
    if (failures === 0) return undefined;
    const state = this.failing.get(endpoint);
    return { connect: { failing: state !== undefined, failures, reconnectInMs: state === undefined ? 0 : Math.max(0, Math.round(state.dueAt - performance.now())) } };
  }

  close(): void {
    this.closed = true;
    for (const [e, state] of this.failing) this.stop(e, state);
  }

  /** gRPC's backoff: initial × 1.6^(n−1), capped, ± 20% jitter from the cluster's random source. */
  private schedule(endpoint: Endpoint, state: Reconnect): void {
    const n = Math.max(1, endpoint.connectFailures ?? 1);
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * RECONNECT_MULTIPLIER ** (n - 1));
    const wait = base * (1 + RECONNECT_JITTER * (2 * this.host.random() - 1));
    state.dueAt = performance.now() + wait;
    state.timer = setTimeout(() => this.reconnect(endpoint, state), wait);
    state.timer.unref();
  }

  /** One TCP connect to the endpoint; a connection made is enough (the peer is listening again). */
  private reconnect(endpoint: Endpoint, state: Reconnect): void {
    state.timer = undefined;
    const socket = connect({ host: endpoint.address, port: endpoint.port });
    state.probe = socket;
    socket.setTimeout(this.host.connectTimeoutMs);
    const done = (ok: boolean): void => {
      if (state.probe !== socket) return;
      state.probe = undefined;
      socket.destroy();
      if (this.failing.get(endpoint) !== state) return;
      if (ok) this.connected(endpoint);
      else {
        endpoint.connectFailures = (endpoint.connectFailures ?? 0) + 1;
        this.schedule(endpoint, state);
      }
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.on('error', () => done(false));
  }

  private stop(endpoint: Endpoint, state: Reconnect): void {
    this.failing.delete(endpoint);
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    const probe = state.probe;
    state.probe = undefined;
    probe?.destroy();
  }
}
