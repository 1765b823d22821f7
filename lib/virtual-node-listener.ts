import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HealthCheck } from './health-checks';
import { renderListenerTls, type ListenerTlsOptions } from './listener-tls-options';
import type { VirtualNodeListenerSchema } from './model/schema';
import { checkPort } from './private/checks';
import { compact, renderDuration } from './private/model-shapes';
import {
  checkConnectionPool,
  checkOutlierDetection,
  type GrpcConnectionPool,
  type GrpcTimeout,
  type Http2ConnectionPool,
  type HttpConnectionPool,
  type HttpTimeout,
  type OutlierDetection,
  type TcpConnectionPool,
  type TcpTimeout,
} from './shared-interfaces';

/** The mesh model's virtual node listener. */
export type VirtualNodeListenerSpec = z.infer<typeof VirtualNodeListenerSchema>;

/** What {@link VirtualNodeListener.bind} returns. */
export interface VirtualNodeListenerConfig {
  /** The model's listener. */
  readonly listener: VirtualNodeListenerSpec;
}

interface VirtualNodeListenerCommonOptions {
  /**
   * Port of the local app.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Active health check of the local app. The sidecar does not run health checks yet: the check
   * is carried in the node config and `cdk synth` warns.
   * @default - no health check
   */
  readonly healthCheck?: HealthCheck;
  /**
   * TLS of the listener.
   * @default - none
   */
  readonly tls?: ListenerTlsOptions;
  /**
   * Outlier detection callers apply to this node's endpoints. The sidecar does not apply outlier
   * detection yet: it is carried in the node config and `cdk synth` warns.
   * @default - none
   */
  readonly outlierDetection?: OutlierDetection;
}

/** Options of an HTTP listener. */
export interface HttpVirtualNodeListenerOptions extends VirtualNodeListenerCommonOptions {
  /**
   * Timeouts.
   * @default - none (per request 15 s)
   */
  readonly timeout?: HttpTimeout;
  /**
   * Connection pool.
   * @default - none (the sidecar's circuit-breaker defaults)
   */
  readonly connectionPool?: HttpConnectionPool;
}
/** Options of an HTTP/2 listener. */
export interface Http2VirtualNodeListenerOptions extends VirtualNodeListenerCommonOptions {
  /**
   * Timeouts.
   * @default - none (per request 15 s)
   */
  readonly timeout?: HttpTimeout;
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: Http2ConnectionPool;
}
/** Options of a gRPC listener. */
export interface GrpcVirtualNodeListenerOptions extends VirtualNodeListenerCommonOptions {
  /**
   * Timeouts.
   * @default - none (per request 15 s)
   */
  readonly timeout?: GrpcTimeout;
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: GrpcConnectionPool;
}
/** Options of a TCP listener. */
export interface TcpVirtualNodeListenerOptions extends VirtualNodeListenerCommonOptions {
  /**
   * Timeouts.
   * @default - none
   */
  readonly timeout?: TcpTimeout;
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: TcpConnectionPool;
}

type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';
type AnyOptions = VirtualNodeListenerCommonOptions & { timeout?: HttpTimeout; connectionPool?: object };

/** A port of the local app that peers reach through the sidecar. */
export abstract class VirtualNodeListener {
  /** HTTP listener. */
  static http(props: HttpVirtualNodeListenerOptions = {}): VirtualNodeListener {
    return new VirtualNodeListenerImpl('http', props);
  }
  /** HTTP/2 listener. */
  static http2(props: Http2VirtualNodeListenerOptions = {}): VirtualNodeListener {
    return new VirtualNodeListenerImpl('http2', props);
  }
  /** gRPC listener. */
  static grpc(props: GrpcVirtualNodeListenerOptions = {}): VirtualNodeListener {
    return new VirtualNodeListenerImpl('grpc', props);
  }
  /** TCP listener. */
  static tcp(props: TcpVirtualNodeListenerOptions = {}): VirtualNodeListener {
    return new VirtualNodeListenerImpl('tcp', props);
  }
  /** Renders the listener. */
  abstract bind(scope: Construct): VirtualNodeListenerConfig;
}

class VirtualNodeListenerImpl extends VirtualNodeListener {
  constructor(
    private readonly protocol: Protocol,
    private readonly props: AnyOptions,
  ) {
    super();
    checkPort('Listener port', props.port);
    checkOutlierDetection(props.outlierDetection);
    checkConnectionPool(props.connectionPool);
  }

  bind(scope: Construct): VirtualNodeListenerConfig {
    const p = this.props;
    const port = p.port ?? 8080;
    const o = p.outlierDetection;
    return {
      listener: compact({
        portMapping: { port, protocol: this.protocol },
        healthCheck: p.healthCheck?.bind(scope, { defaultPort: port }).virtualNodeHealthCheck,
        timeout: p.timeout ? { [this.protocol]: { idle: renderDuration(p.timeout.idle), perRequest: renderDuration(p.timeout.perRequest) } } : undefined,
        connectionPool: p.connectionPool ? { [this.protocol]: { ...p.connectionPool } } : undefined,
        outlierDetection: o
          ? {
              maxServerErrors: o.maxServerErrors,
              interval: renderDuration(o.interval),
              baseEjectionDuration: renderDuration(o.baseEjectionDuration),
              maxEjectionPercent: o.maxEjectionPercent,
            }
          : undefined,
        tls: renderListenerTls(scope, p.tls),
      }),
    };
  }
}
