import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HealthCheck } from './health-checks';
import { renderListenerTls, type ListenerTlsOptions } from './listener-tls-options';
import type { VirtualGatewayListenerSchema } from './model/schema';
import { checkPort } from './private/checks';
import { compact } from './private/model-shapes';
import { checkConnectionPool, type GrpcConnectionPool, type Http2ConnectionPool, type HttpConnectionPool } from './shared-interfaces';

interface VirtualGatewayListenerCommonOptions {
  /**
   * Port the gateway listens on.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Health check of the gateway listener. The sidecar does not run health checks yet: the check
   * is carried in the node config and `cdk synth` warns.
   * @default - no health check
   */
  readonly healthCheck?: HealthCheck;
  /**
   * TLS of the listener.
   * @default - none
   */
  readonly tls?: ListenerTlsOptions;
}
/** Options of an HTTP gateway listener. */
export interface HttpGatewayListenerOptions extends VirtualGatewayListenerCommonOptions {
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: HttpConnectionPool;
}
/** Options of an HTTP/2 gateway listener. */
export interface Http2GatewayListenerOptions extends VirtualGatewayListenerCommonOptions {
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: Http2ConnectionPool;
}
/** Options of a gRPC gateway listener. */
export interface GrpcGatewayListenerOptions extends VirtualGatewayListenerCommonOptions {
  /**
   * Connection pool.
   * @default - none
   */
  readonly connectionPool?: GrpcConnectionPool;
}

/** What {@link VirtualGatewayListener.bind} returns. */
export interface VirtualGatewayListenerConfig {
  /** The model's gateway listener. */
  readonly listener: z.infer<typeof VirtualGatewayListenerSchema>;
}

/** A port a virtual gateway accepts traffic from outside the mesh on. */
export abstract class VirtualGatewayListener {
  /** HTTP listener. */
  static http(options: HttpGatewayListenerOptions = {}): VirtualGatewayListener {
    return new GatewayListenerOf('http', options);
  }
  /** HTTP/2 listener. */
  static http2(options: Http2GatewayListenerOptions = {}): VirtualGatewayListener {
    return new GatewayListenerOf('http2', options);
  }
  /** gRPC listener. */
  static grpc(options: GrpcGatewayListenerOptions = {}): VirtualGatewayListener {
    return new GatewayListenerOf('grpc', options);
  }
  /** Renders the listener. */
  abstract bind(scope: Construct): VirtualGatewayListenerConfig;
}

class GatewayListenerOf extends VirtualGatewayListener {
  constructor(
    private readonly protocol: 'http' | 'http2' | 'grpc',
    private readonly options: VirtualGatewayListenerCommonOptions & { connectionPool?: object },
  ) {
    super();
    checkPort('Gateway listener port', options.port);
    checkConnectionPool(options.connectionPool);
  }
  bind(scope: Construct): VirtualGatewayListenerConfig {
    const o = this.options;
    const port = o.port ?? 8080;
    return {
      listener: compact({
        portMapping: { port, protocol: this.protocol },
        healthCheck: o.healthCheck?.bind(scope, { defaultPort: port }).virtualGatewayHealthCheck,
        connectionPool: o.connectionPool ? { [this.protocol]: { ...o.connectionPool } } : undefined,
        tls: renderListenerTls(scope, o.tls),
      }),
    };
  }
}
