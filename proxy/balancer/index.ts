/**
 * Load balancers for a cluster's endpoints (Envoy/Istio policies): ROUND_ROBIN, LEAST_REQUEST,
 * RANDOM and CONSISTENT_HASH, each with health filtering, Envoy's 50% panic threshold and optional
 * zone-aware preference.
 */
import type { LoadBalancer } from '../contracts/node-config';
import { ContractError } from '../contracts/validation';
import type { Balancer } from './balancer';
import { LeastRequestBalancer, RandomBalancer, RoundRobinBalancer } from './policies';
import { RingHashBalancer } from './ring-hash';

/** A load balancer setting the sidecar cannot run (CONSISTENT_HASH without a hash key). */
export const BALANCER_INVALID = 'WEFT_ERR_BALANCER_INVALID';

/**
 * Creates the balancer of one cluster. It is empty until the first `update()`.
 * @param lb the cluster's `loadBalancer` settings
 * @param localZone the caller's availability zone, when known (enables `zoneAware`)
 * @param random uniform in [0, 1); injectable for deterministic tests
 */
export function createBalancer(lb: LoadBalancer, localZone: string | undefined, random: () => number = Math.random): Balancer {
  const zoneAware = lb.zoneAware;
  switch (lb.policy) {
    case 'LEAST_REQUEST':
      return new LeastRequestBalancer(zoneAware, localZone, random);
    case 'RANDOM':
      return new RandomBalancer(zoneAware, localZone, random);
    case 'CONSISTENT_HASH':
      if (lb.consistentHash === undefined) {
        throw new ContractError(BALANCER_INVALID, 'load balancer', [
          { path: 'consistentHash', message: 'CONSISTENT_HASH needs a hash key (header, cookie or sourceIp), got: none' },
        ]);
      }
      return new RingHashBalancer(lb.consistentHash, lb.ringSize, zoneAware, localZone, random);
    default:
      return new RoundRobinBalancer(zoneAware, localZone, random);
  }
}

export { selectCandidates, PANIC_THRESHOLD_PERCENT } from './candidates';
export { hashString } from './hash';
