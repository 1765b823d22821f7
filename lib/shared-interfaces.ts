import type * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { VirtualNodeSpecSchema } from './model/schema';
import { checkIntRange } from './private/checks';
import { compact } from './private/model-shapes';
import { renderClientPolicy, type TlsClientPolicy } from './tls-client-policy';
import type { IVirtualService } from './virtual-service';

type NodeSpec = z.infer<typeof VirtualNodeSpecSchema>;
/** The mesh model's client policy shape. */
export type ClientPolicyConfig = NonNullable<NonNullable<NodeSpec['backendDefaults']>['clientPolicy']>;

/** Timeouts for HTTP protocols. */
export interface HttpTimeout {
  /**
   * How long a connection may be idle.
   * @default - none (the sidecar's 300 s)
   */
  readonly idle?: cdk.Duration;
  /**
   * Per-request timeout.
   * @default - 15 s
   */
  readonly perRequest?: cdk.Duration;
}

/** Timeouts for gRPC. */
export interface GrpcTimeout {
  /**
   * How long a connection may be idle.
   * @default - none (the sidecar's 300 s)
   */
  readonly idle?: cdk.Duration;
  /**
   * Per-request timeout.
   * @default - 15 s
   */
  readonly perRequest?: cdk.Duration;
}

/** Timeouts for TCP. */
export interface TcpTimeout {
  /**
   * How long a connection may be idle.
   * @default - none (the sidecar's 300 s)
   */
  readonly idle?: cdk.Duration;
}

/** Outlier detection of a listener; App Mesh requires all four fields. */
export interface OutlierDetection {
  /** Base time a host is ejected for (multiplied by the number of ejections). */
  readonly baseEjectionDuration: cdk.Duration;
  /** Time between ejection sweeps. */
  readonly interval: cdk.Duration;
  /** Most hosts, in percent, that may be ejected at once (at least one host is always ejectable). */
  readonly maxEjectionPercent: number;
  /** Consecutive 5xx responses that eject a host. */
  readonly maxServerErrors: number;
}

/** Connection pool of an HTTP listener. */
export interface HttpConnectionPool {
  /** Most connections to the local app. */
  readonly maxConnections: number;
  /** Most requests queued while waiting for a connection. */
  readonly maxPendingRequests: number;
}
/** Connection pool of a TCP listener. */
export interface TcpConnectionPool {
  /** Most connections to the local app. */
  readonly maxConnections: number;
}
/** Connection pool of a gRPC listener. */
export interface GrpcConnectionPool {
  /** Most concurrent requests. */
  readonly maxRequests: number;
}
/** Connection pool of an HTTP/2 listener. */
export interface Http2ConnectionPool {
  /** Most concurrent requests. */
  readonly maxRequests: number;
}

/** What {@link LoggingFormat.bind} returns: the model's access log format. */
export interface LoggingFormatConfig {
  /**
   * The format.
   * @default - Weft's default JSON line
   */
  readonly formatConfig?: { text: string } | { json: { key: string; value: string }[] };
}

/** Format of the sidecar's access log (Envoy-style `%FIELD%` operators). */
export abstract class LoggingFormat {
  /** A text pattern. */
  static fromText(text: string): LoggingFormat {
    return new (class extends LoggingFormat {
      bind(): LoggingFormatConfig {
        return { formatConfig: { text } };
      }
    })();
  }
  /** JSON keys and their value patterns. */
  static fromJson(jsonLoggingFormat: { [key: string]: string }): LoggingFormat {
    const entries = Object.entries(jsonLoggingFormat);
    if (entries.length === 0) throw new Error('JSON logging format must have at least one key, got: {}');
    return new (class extends LoggingFormat {
      bind(): LoggingFormatConfig {
        return { formatConfig: { json: entries.map(([key, value]) => ({ key, value })) } };
      }
    })();
  }
  /** Renders the format. */
  abstract bind(): LoggingFormatConfig;
}

/** What {@link AccessLog.bind} returns. */
export interface AccessLogConfig {
  /**
   * The model's access log of a virtual node.
   * @default - no access logging
   */
  readonly virtualNodeAccessLog?: NonNullable<NonNullable<NodeSpec['logging']>['accessLog']>;
  /**
   * The model's access log of a virtual gateway.
   * @default - no access logging
   */
  readonly virtualGatewayAccessLog?: NonNullable<NonNullable<NodeSpec['logging']>['accessLog']>;
}

/** Weft's options of an access log, beyond App Mesh's. */
export interface AccessLogOptions {
  /**
   * Share of requests and TCP connections logged, 0-100.
   * @default 100
   */
  readonly samplePercent?: number;
}

/** The sidecar's access log. */
export abstract class AccessLog {
  /** Writes access log lines to a file (`/dev/stdout` sends them to the container log). */
  static fromFilePath(filePath: string, loggingFormat?: LoggingFormat, options: AccessLogOptions = {}): AccessLog {
    return new (class extends AccessLog {
      bind(_scope: Construct): AccessLogConfig {
        const file = compact({ path: filePath, format: loggingFormat?.bind().formatConfig, samplePercent: options.samplePercent });
        return { virtualNodeAccessLog: { file }, virtualGatewayAccessLog: { file } };
      }
    })();
  }
  /** Renders the access log. */
  abstract bind(scope: Construct): AccessLogConfig;
}

/** Default client policy of every backend of a node or gateway. */
export interface BackendDefaults {
  /**
   * TLS the sidecar originates to backends.
   * @default - none
   */
  readonly tlsClientPolicy?: TlsClientPolicy;
}

/** Options of a virtual service backend. */
export interface VirtualServiceBackendOptions {
  /**
   * TLS the sidecar originates to this backend.
   * @default - none (backendDefaults apply)
   */
  readonly tlsClientPolicy?: TlsClientPolicy;
}

/** What {@link Backend.bind} returns. */
export interface BackendConfig {
  /** The model's backend entry. */
  readonly virtualServiceBackend: { virtualService: { virtualServiceName: string; clientPolicy?: ClientPolicyConfig } };
}

/** A virtual service a node may call. */
export abstract class Backend {
  /** A virtual service backend. */
  static virtualService(virtualService: IVirtualService, props: VirtualServiceBackendOptions = {}): Backend {
    return new (class extends Backend {
      bind(scope: Construct): BackendConfig {
        return {
          virtualServiceBackend: {
            virtualService: compact({
              virtualServiceName: virtualService.virtualServiceName,
              clientPolicy: props.tlsClientPolicy ? renderClientPolicy(scope, props.tlsClientPolicy) : undefined,
            }),
          },
        };
      }
    })();
  }
  /** Renders the backend. */
  abstract bind(scope: Construct): BackendConfig;
}

export function checkOutlierDetection(o: OutlierDetection | undefined): void {
  if (!o) return;
  checkIntRange('outlierDetection.maxServerErrors', o.maxServerErrors, 1, Number.MAX_SAFE_INTEGER);
  checkIntRange('outlierDetection.maxEjectionPercent', o.maxEjectionPercent, 0, 100);
}

export function checkConnectionPool(pool: object | undefined): void {
  if (!pool) return;
  for (const [key, value] of Object.entries(pool)) checkIntRange(`connectionPool.${key}`, value as number, 1, Number.MAX_SAFE_INTEGER);
}

