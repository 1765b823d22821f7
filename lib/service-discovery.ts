import type * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { ServiceDiscoverySchema } from './model/schema';
import { MeshRegistry } from './private/registry';
import { compact } from './private/model-shapes';
import type { IMesh } from './mesh';

/** IP versions used for discovery and for reaching the local app. */
export enum IpPreference {
  /** IPv4 only. */
  IPV4_ONLY = 'IPv4_ONLY',
  /** IPv4, falling back to IPv6. */
  IPV4_PREFERRED = 'IPv4_PREFERRED',
  /** IPv6 only. */
  IPV6_ONLY = 'IPv6_ONLY',
  /** IPv6, falling back to IPv4. */
  IPV6_PREFERRED = 'IPv6_PREFERRED',
}

/** Mesh-wide discovery settings. */
export interface MeshServiceDiscovery {
  /**
   * IP preference of every node of the mesh.
   * @default - none (IPv4 preferred)
   */
  readonly ipPreference?: IpPreference;
}

/** DNS response handling. */
export enum DnsResponseType {
  /** The name resolves to a load balancer; connections are kept when the answer changes. */
  LOAD_BALANCER = 'LOADBALANCER',
  /** The name resolves to every endpoint; connections to vanished endpoints are drained. */
  ENDPOINTS = 'ENDPOINTS',
}

/** The Cloud Map service a node registers in, as discovery sync needs it. */
export interface CloudMapRegistration {
  /** Namespace name (may be a token). */
  readonly namespaceName: string;
  /** Service name (may be a token). */
  readonly serviceName: string;
  /** Service id (may be a token). */
  readonly serviceId: string;
  /** The node's own instance attributes (e.g. `version`). */
  readonly attributes: Record<string, string>;
  /**
   * Whether the service has a custom health config, so that the node's sidecars set their own
   * task's health status from their local app's health check (`UpdateInstanceCustomHealthStatus`).
   * @default false
   */
  readonly customHealthStatus?: boolean;
}

/** What {@link ServiceDiscovery.bind} returns. */
export interface ServiceDiscoveryConfig {
  /** The model's service discovery. */
  readonly discovery: z.infer<typeof ServiceDiscoverySchema>;
  /**
   * The Cloud Map service the node's tasks are registered in.
   * @default - DNS discovery: tasks are not registered
   */
  readonly cloudMap?: CloudMapRegistration;
}

/** How callers find a virtual node's endpoints. */
export abstract class ServiceDiscovery {
  /** DNS: callers resolve `hostname`. */
  static dns(hostname: string, responseType?: DnsResponseType, ipPreference?: IpPreference): ServiceDiscovery {
    return new (class extends ServiceDiscovery {
      bind(_scope: Construct, _mesh: IMesh): ServiceDiscoveryConfig {
        return { discovery: { dns: compact({ hostname, responseType, ipPreference }) } };
      }
    })();
  }

  /**
   * Cloud Map: callers discover instances of `service` that carry every one of
   * `instanceAttributes`. Weft's discovery sync registers the node's ECS tasks in it.
   */
  static cloudMap(service: cloudmap.IService, instanceAttributes?: { [key: string]: string }, ipPreference?: IpPreference): ServiceDiscovery {
    return new (class extends ServiceDiscovery {
      bind(_scope: Construct, _mesh: IMesh): ServiceDiscoveryConfig {
        return cloudMapConfig(service, instanceAttributes, ipPreference);
      }
    })();
  }

  /**
   * Weft: Cloud Map service `serviceName` in the mesh's namespace, created by the Mesh (once per
   * name, so a stable node and its canary with different `instanceAttributes` share it).
   */
  static cloudMapName(serviceName: string, instanceAttributes?: { [key: string]: string }, ipPreference?: IpPreference): ServiceDiscovery {
    return new (class extends ServiceDiscovery {
      bind(_scope: Construct, mesh: IMesh): ServiceDiscoveryConfig {
        const registry = MeshRegistry.of(mesh, `ServiceDiscovery.cloudMapName('${serviceName}')`);
        const service = registry.cloudMapService(serviceName);
        // Literal names (rather than the service's attributes) keep the node configs and the
        // sidecars' IAM conditions readable and checkable at synth.
        // The Mesh creates these services with a custom health config.
        return cloudMapConfig(service, instanceAttributes, ipPreference, { namespaceName: registry.plane.namespaceName, serviceName }, true);
      }
    })();
  }

  /** Renders the discovery for a node of `mesh`. */
  abstract bind(scope: Construct, mesh: IMesh): ServiceDiscoveryConfig;
}

function cloudMapConfig(
  service: cloudmap.IService,
  attributes: { [key: string]: string } | undefined,
  ipPreference: IpPreference | undefined,
  names: { namespaceName: string; serviceName: string } = { namespaceName: service.namespace.namespaceName, serviceName: service.serviceName },
  customHealthStatus = false,
): ServiceDiscoveryConfig {
  const entries = Object.entries(attributes ?? {});
  if (entries.length > 30) throw new Error(`Cloud Map instance attributes must be at most 30, got: ${entries.length}`);
  return {
    discovery: {
      awsCloudMap: compact({
        namespaceName: names.namespaceName,
        serviceName: names.serviceName,
        attributes: entries.length > 0 ? entries.map(([key, value]) => ({ key, value })) : undefined,
        ipPreference,
      }),
    },
    cloudMap: {
      namespaceName: names.namespaceName,
      serviceName: names.serviceName,
      serviceId: service.serviceId,
      attributes: { ...attributes },
      ...(customHealthStatus ? { customHealthStatus } : {}),
    },
  };
}
