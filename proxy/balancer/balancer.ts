/** What a cluster asks of its load balancer; the policies are in this directory. */
import type { IncomingHttpHeaders } from 'node:http';
import type { Endpoint } from '../endpoints/endpoint';

/** What a balancer may look at when choosing (consistent hashing needs the request). */
export interface PickContext {
  headers: IncomingHttpHeaders;
  sourceIp: string;
  /** An endpoint to avoid when another is available (the last try's, for a retry). */
  exclude?: Endpoint;
}

export interface Balancer {
  /** Replaces the endpoint set (after discovery or health changes). */
  update(endpoints: readonly Endpoint[]): void;
  /** Chooses an endpoint; undefined when the set is empty. Panic mode applies below 50% healthy. */
  pick(ctx: PickContext): Endpoint | undefined;
}
