/**
 * How a Cloud Map-shaped instance becomes an endpoint, shared by the Cloud Map source and (so
 * that local mode behaves the same) the endpoints file source: the address is
 * `AWS_INSTANCE_IPV4`, the port `AWS_INSTANCE_PORT` (the peer sidecar's inbound port), the zone
 * `AVAILABILITY_ZONE`; only `UNHEALTHY` is unhealthy (`UNKNOWN` is what Cloud Map reports for a
 * service without health checks).
 */
import { isIPv4 } from 'node:net';
import type { EndpointInstance } from '../contracts/mesh-documents';
import { CLOUD_MAP_ATTRIBUTES } from '../contracts/mesh-layout';
import type { DiscoveredEndpoint } from './endpoint-source';

/** The instance shape both sources have: the endpoints file's, and DiscoverInstances' after renaming. */
export type InstanceLike = Pick<EndpointInstance, 'instanceId' | 'attributes'> & { healthStatus?: string };

/**
 * The endpoint of `inst`, or undefined when it has no usable IPv4 address or port (a registration
 * that is not discovery sync's, or a half-written one): such an instance cannot be dialled.
 */
export function endpointFromInstance(inst: InstanceLike): DiscoveredEndpoint | undefined {
  const address = inst.attributes[CLOUD_MAP_ATTRIBUTES.ipv4]?.trim();
  const portText = inst.attributes[CLOUD_MAP_ATTRIBUTES.port]?.trim() ?? '';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  // The attribute is an IPv4 address by definition; anything else (a host name, `undefined` from a
  // buggy registrar, `ip:port`) would be resolved or fail per connection instead of being skipped.
  if (!address || !isIPv4(address) || !(port >= 1 && port <= 65535)) return undefined;
  return {
    id: inst.instanceId,
    address,
    port,
    zone: inst.attributes[CLOUD_MAP_ATTRIBUTES.zone] || undefined,
    weight: 1,
    healthy: inst.healthStatus !== 'UNHEALTHY',
  };
}

/** True when `attributes` has every key of `filter` with the same value (DiscoverInstances' QueryParameters). */
export function matchesAttributes(attributes: Readonly<Record<string, string>>, filter: Readonly<Record<string, string>>): boolean {
  for (const key of Object.keys(filter)) if (attributes[key] !== filter[key]) return false;
  return true;
}
