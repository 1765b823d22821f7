import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HealthCheckSchema } from './model/schema';
import { checkDuration, checkIntRange, checkStartsWithSlash } from './private/checks';
import { compact } from './private/model-shapes';

type HealthCheckSpec = z.infer<typeof HealthCheckSchema>;

interface HealthCheckCommonOptions {
  /**
   * Consecutive successes that mark the endpoint healthy (2-10).
   * @default 2
   */
  readonly healthyThreshold?: number;
  /**
   * Time between checks (5-300 s).
   * @default Duration.seconds(5)
   */
  readonly interval?: cdk.Duration;
  /**
   * Time to wait for a response (2-60 s).
   * @default Duration.seconds(2)
   */
  readonly timeout?: cdk.Duration;
  /**
   * Consecutive failures that mark the endpoint unhealthy (2-10).
   * @default 2
   */
  readonly unhealthyThreshold?: number;
}

/** Options of an HTTP or HTTP/2 health check. */
export interface HttpHealthCheckOptions extends HealthCheckCommonOptions {
  /**
   * Path requested.
   * @default /
   */
  readonly path?: string;
}
/** Options of a gRPC health check (grpc.health.v1). */
export type GrpcHealthCheckOptions = HealthCheckCommonOptions;
/** Options of a TCP health check (connect only). */
export type TcpHealthCheckOptions = HealthCheckCommonOptions;

/** Options passed by the listener that owns the health check. */
export interface HealthCheckBindOptions {
  /**
   * Port checked when the health check names none.
   * @default - no port
   */
  readonly defaultPort?: number;
}

/** What {@link HealthCheck.bind} returns. */
export interface HealthCheckConfig {
  /**
   * The model's health check of a virtual node listener.
   * @default - no health check
   */
  readonly virtualNodeHealthCheck?: HealthCheckSpec;
  /**
   * The model's health check of a virtual gateway listener.
   * @default - no health check
   */
  readonly virtualGatewayHealthCheck?: HealthCheckSpec;
}

/** Active health checks the sidecar runs against its local app. */
export abstract class HealthCheck {
  /** HTTP health check. */
  static http(options: HttpHealthCheckOptions = {}): HealthCheck {
    return new HealthCheckImpl('http', options);
  }
  /** HTTP/2 health check. */
  static http2(options: HttpHealthCheckOptions = {}): HealthCheck {
    return new HealthCheckImpl('http2', options);
  }
  /** gRPC health check. */
  static grpc(options: GrpcHealthCheckOptions = {}): HealthCheck {
    return new HealthCheckImpl('grpc', options);
  }
  /** TCP health check. */
  static tcp(options: TcpHealthCheckOptions = {}): HealthCheck {
    return new HealthCheckImpl('tcp', options);
  }
  /** Renders the health check. */
  abstract bind(scope: Construct, options: HealthCheckBindOptions): HealthCheckConfig;
}

class HealthCheckImpl extends HealthCheck {
  constructor(
    private readonly protocol: 'http' | 'http2' | 'grpc' | 'tcp',
    private readonly options: HttpHealthCheckOptions,
  ) {
    super();
    checkIntRange('healthyThreshold', options.healthyThreshold, 2, 10);
    checkIntRange('unhealthyThreshold', options.unhealthyThreshold, 2, 10);
    checkDuration('Health check interval', options.interval, cdk.Duration.seconds(5), cdk.Duration.seconds(300));
    checkDuration('Health check timeout', options.timeout, cdk.Duration.seconds(2), cdk.Duration.seconds(60));
    checkStartsWithSlash('Health check path', options.path);
  }

  bind(_scope: Construct, options: HealthCheckBindOptions): HealthCheckConfig {
    const o = this.options;
    const spec: HealthCheckSpec = compact({
      protocol: this.protocol,
      path: this.protocol === 'http' || this.protocol === 'http2' ? (o.path ?? '/') : undefined,
      port: options.defaultPort,
      healthyThreshold: o.healthyThreshold ?? 2,
      unhealthyThreshold: o.unhealthyThreshold ?? 2,
      intervalMillis: (o.interval ?? cdk.Duration.seconds(5)).toMilliseconds(),
      timeoutMillis: (o.timeout ?? cdk.Duration.seconds(2)).toMilliseconds(),
    });
    return { virtualNodeHealthCheck: spec, virtualGatewayHealthCheck: spec };
  }
}
