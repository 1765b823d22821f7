import type { Construct } from 'constructs';
import { checkPort } from './private/checks';

/** What {@link VirtualRouterListener.bind} returns. */
export interface VirtualRouterListenerConfig {
  /** The model's router listener. */
  readonly listener: { portMapping: { port: number; protocol: 'http' | 'http2' | 'grpc' | 'tcp' } };
}

/** A port and protocol a virtual router accepts. */
export abstract class VirtualRouterListener {
  /** HTTP on `port` (default 8080). */
  static http(port?: number): VirtualRouterListener {
    return new RouterListenerOf('http', port);
  }
  /** HTTP/2 on `port` (default 8080). */
  static http2(port?: number): VirtualRouterListener {
    return new RouterListenerOf('http2', port);
  }
  /** gRPC on `port` (default 8080). */
  static grpc(port?: number): VirtualRouterListener {
    return new RouterListenerOf('grpc', port);
  }
  /** TCP on `port` (default 8080). */
  static tcp(port?: number): VirtualRouterListener {
    return new RouterListenerOf('tcp', port);
  }
  /** Renders the listener. */
  abstract bind(scope: Construct): VirtualRouterListenerConfig;
}

class RouterListenerOf extends VirtualRouterListener {
  constructor(
    private readonly protocol: 'http' | 'http2' | 'grpc' | 'tcp',
    private readonly port = 8080,
  ) {
    super();
    checkPort('Router listener port', port);
  }
  bind(_scope: Construct): VirtualRouterListenerConfig {
    return { listener: { portMapping: { port: this.port, protocol: this.protocol } } };
  }
}
