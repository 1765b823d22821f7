import type * as cdk from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Settings } from '../proxy/contracts';

/** How the Weft sidecar container is added to a task definition. */
export interface SidecarOptions {
  /**
   * Sidecar image.
   * @default - built from Weft's `proxy/Dockerfile` (repository root as context)
   */
  readonly image?: ecs.ContainerImage;
  /**
   * Transparent mode: the task's APPMESH ProxyConfiguration redirects the app's traffic to the
   * sidecar with iptables. Otherwise (explicit mode) the app container gets `HTTP_PROXY`.
   * @default false
   */
  readonly transparent?: boolean;
  /**
   * Ports of the local app (transparent mode redirects inbound traffic for them).
   * @default - the node's listener ports
   */
  readonly appPorts?: number[];
  /**
   * Outbound ports the ProxyConfiguration leaves alone (transparent mode).
   * @default - none
   */
  readonly egressIgnoredPorts?: number[];
  /**
   * Further sidecar settings (log level, metrics sink, limits, ...), written to its environment.
   * @default - the sidecar's defaults
   */
  readonly settings?: Partial<Settings>;
  /**
   * Sidecar container name.
   * @default 'weft-sidecar'
   */
  readonly containerName?: string;
  /**
   * Log driver of the sidecar.
   * @default - awslogs, stream prefix 'weft', one month retention
   */
  readonly logging?: ecs.LogDriver;
  /**
   * Soft memory limit of the sidecar.
   * @default 128
   */
  readonly memoryReservationMiB?: number;
  /**
   * CPU units of the sidecar.
   * @default - none reserved
   */
  readonly cpu?: number;
  /**
   * How long ECS waits after SIGTERM before killing the sidecar (it drains in-flight requests).
   * @default Duration.seconds(30)
   */
  readonly stopTimeout?: cdk.Duration;
}

/** Sidecar options of a virtual node, whose app runs beside it. */
export interface VirtualNodeSidecarOptions extends SidecarOptions {
  /** The app container; it starts once the sidecar is healthy. */
  readonly appContainer: ecs.ContainerDefinition;
}
