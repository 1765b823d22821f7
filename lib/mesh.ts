import * as cdk from 'aws-cdk-lib';
import type * as acmpca from 'aws-cdk-lib/aws-acmpca';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { defaultTrustDomain, type NodeConfig } from '../proxy/contracts';
import { MeshAlarms, type MeshAlarmsOptions } from './mesh-alarms';
import { MeshDashboard, type MeshDashboardOptions } from './mesh-dashboard';
import { formatModelError } from './model/errors';
import type { MeshResource } from './model/schema';
import { checkLiteralName } from './private/checks';
import { ImportedMesh, meshArnOf } from './private/imported-mesh';
import { MeshControlPlane } from './private/control-plane';
import { MeshRegistry } from './private/registry';
import { compact } from './private/model-shapes';
import type { MeshServiceDiscovery } from './service-discovery';
import { VirtualGateway, type VirtualGatewayBaseProps } from './virtual-gateway';
import { VirtualNode, type VirtualNodeBaseProps } from './virtual-node';
import { VirtualRouter, type VirtualRouterBaseProps } from './virtual-router';

/** Which outbound traffic a mesh allows besides its own virtual services. */
export enum MeshFilterType {
  /** Any destination. */
  ALLOW_ALL = 'ALLOW_ALL',
  /** Only the mesh's virtual services (and AWS APIs the app calls directly). */
  DROP_ALL = 'DROP_ALL',
}

/** A Weft mesh, defined here or imported. */
export interface IMesh extends cdk.IResource {
  /**
   * The mesh name.
   * @attribute
   */
  readonly meshName: string;
  /**
   * An App Mesh-shaped ARN of the mesh (Weft has no service behind it; kept for compatibility).
   * @attribute
   */
  readonly meshArn: string;
  /** Adds a virtual router to this mesh (in the mesh's stack). */
  addVirtualRouter(id: string, props?: VirtualRouterBaseProps): VirtualRouter;
  /** Adds a virtual node to this mesh (in the mesh's stack). */
  addVirtualNode(id: string, props?: VirtualNodeBaseProps): VirtualNode;
  /** Adds a virtual gateway to this mesh (in the mesh's stack). */
  addVirtualGateway(id: string, props?: VirtualGatewayBaseProps): VirtualGateway;
}

abstract class MeshBase extends cdk.Resource implements IMesh {
  abstract readonly meshName: string;
  abstract readonly meshArn: string;

  addVirtualRouter(id: string, props: VirtualRouterBaseProps = {}): VirtualRouter {
    return new VirtualRouter(this, id, { ...props, mesh: this });
  }
  addVirtualNode(id: string, props: VirtualNodeBaseProps = {}): VirtualNode {
    return new VirtualNode(this, id, { ...props, mesh: this });
  }
  addVirtualGateway(id: string, props: VirtualGatewayBaseProps = {}): VirtualGateway {
    return new VirtualGateway(this, id, { ...props, mesh: this });
  }
}

/** How the Mesh gets its CA (see {@link MeshCertificateAuthority}). */
export type MeshCertificateAuthoritySpec = { readonly kind: 'new'; readonly commonName?: string } | { readonly kind: 'existing'; readonly arn: string };

/** The mesh's certificate authority, which signs every node's SPIFFE certificate. */
export abstract class MeshCertificateAuthority {
  /**
   * A new AWS Private CA in short-lived certificate mode (certificates up to 7 days; about
   * USD 50 a month plus USD 0.058 per certificate).
   */
  static shortLived(options: { readonly commonName?: string } = {}): MeshCertificateAuthority {
    return new CertificateAuthorityOf({ kind: 'new', commonName: options.commonName });
  }
  /** An existing AWS Private CA (it must allow the `EndEntityCertificate_APIPassthrough/V1` template). */
  static fromCertificateAuthority(certificateAuthority: acmpca.ICertificateAuthority): MeshCertificateAuthority {
    return MeshCertificateAuthority.fromArn(certificateAuthority.certificateAuthorityArn);
  }
  /** An existing AWS Private CA by ARN. */
  static fromArn(certificateAuthorityArn: string): MeshCertificateAuthority {
    return new CertificateAuthorityOf({ kind: 'existing', arn: certificateAuthorityArn });
  }
  /** What the Mesh deploys. */
  abstract bind(): MeshCertificateAuthoritySpec;
}

class CertificateAuthorityOf extends MeshCertificateAuthority {
  constructor(private readonly spec: MeshCertificateAuthoritySpec) {
    super();
  }
  bind(): MeshCertificateAuthoritySpec {
    return this.spec;
  }
}

/** Weft: distributed tracing in every sidecar of a mesh (see docs/observability.md). */
export interface MeshTracing {
  /**
   * Whether the sidecars propagate trace context, write spans and export them.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Percentage (0-100) of new traces sampled: requests that arrive without a sampling decision.
   * @default 1
   */
  readonly samplingPercentage?: number;
  /**
   * The collector's OTLP/HTTP traces endpoint (protobuf); on AWS the ADOT collector sidecar.
   * A sidecar's `WEFT_TRACING_ENDPOINT` overrides it.
   * @default 'http://localhost:4318/v1/traces'
   */
  readonly endpoint?: string;
}

/** Properties of a Mesh. */
export interface MeshProps {
  /**
   * The mesh name.
   * @default - a name derived from the construct path
   */
  readonly meshName?: string;
  /**
   * Egress filter.
   * @default DROP_ALL
   */
  readonly egressFilter?: MeshFilterType;
  /**
   * Mesh-wide discovery settings.
   * @default - no IP preference
   */
  readonly serviceDiscovery?: MeshServiceDiscovery;
  /**
   * Weft: SPIFFE trust domain of the mesh's identities.
   * @default - the mesh name lowercased
   */
  readonly trustDomain?: string;
  /**
   * Weft: distributed tracing (W3C, B3 and X-Ray headers, spans over OTLP/HTTP).
   * @default - off
   */
  readonly tracing?: MeshTracing;
  /**
   * Weft: the Cloud Map namespace that services created for nodes (`ServiceDiscovery.cloudMapName`
   * and nodes with listeners but no discovery) live in.
   * @default - a new HTTP namespace named `weft-<meshName>`
   */
  readonly namespace?: cloudmap.INamespace;
  /**
   * Weft: the bucket node configs, the trust bundle and the task registry are published to.
   * @default - a new versioned, encrypted, private bucket that requires TLS
   */
  readonly configBucket?: s3.IBucket;
  /**
   * Weft: the CA of the mesh's mTLS identities. Needed by `TlsCertificate.meshIdentity()` and
   * `TlsValidationTrust.meshTrust()`; with it the Mesh deploys certificate sync.
   * @default - no mesh CA and no certificate sync
   */
  readonly certificateAuthority?: MeshCertificateAuthority;
  /**
   * Weft: the ECS clusters whose task state changes discovery sync listens to.
   * @default - every cluster of the account and Region
   */
  readonly clusters?: ecs.ICluster[];
  /**
   * Weft: how often discovery sync reconciles Cloud Map with the running tasks.
   * @default Duration.minutes(5)
   */
  readonly reconcileInterval?: cdk.Duration;
  /**
   * Weft: how often certificate sync checks for certificates due for renewal.
   * @default Duration.hours(1)
   */
  readonly certificateSyncInterval?: cdk.Duration;
  /**
   * Weft: lifetime of node certificates (renewed at two thirds of it).
   * @default Duration.days(7)
   */
  readonly certificateLifetime?: cdk.Duration;
}

/**
 * A Weft mesh: the model registry of everything added to it, and what runs it (config bucket,
 * config publish, Cloud Map namespace, discovery sync, certificate sync, optional Private CA).
 * An invalid mesh fails `cdk synth` with the model's errors.
 */
export class Mesh extends MeshBase {
  /** Imports a mesh by App Mesh-shaped ARN. Imported meshes cannot receive new resources. */
  static fromMeshArn(scope: Construct, id: string, meshArn: string): IMesh {
    const meshName = cdk.Token.isUnresolved(meshArn) ? undefined : /^arn:[^:]+:appmesh:[^:]*:[^:]*:mesh\/([^/]+)$/.exec(meshArn)?.[1];
    if (meshName === undefined) throw new Error(`not a literal mesh ARN (arn:<partition>:appmesh:<region>:<account>:mesh/<name>), got: ${meshArn}`);
    return new ImportedMesh(scope, id, meshName, meshArn);
  }
  /** Imports a mesh by name. Imported meshes cannot receive new resources. */
  static fromMeshName(scope: Construct, id: string, meshName: string): IMesh {
    return new ImportedMesh(scope, id, meshName, meshArnOf(scope, meshName));
  }

  readonly meshName: string;
  readonly meshArn: string;
  /** Weft: SPIFFE trust domain of the mesh. */
  readonly trustDomain: string;
  /** Weft: the config bucket. */
  readonly configBucket: s3.IBucket;
  /** Weft: the Cloud Map namespace of services the mesh creates. */
  readonly namespace: cloudmap.INamespace;
  /** Weft: the ARN of the mesh CA, when there is one. */
  readonly certificateAuthorityArn?: string;

  private readonly registry: MeshRegistry;
  private readonly plane: MeshControlPlane;

  constructor(scope: Construct, id: string, props: MeshProps = {}) {
    super(scope, id);
    this.meshName = props.meshName ?? cdk.Names.uniqueResourceName(this, { maxLength: 63 });
    checkLiteralName('meshName', this.meshName);
    this.trustDomain = props.trustDomain ?? defaultTrustDomain(this.meshName);
    this.meshArn = meshArnOf(this, this.meshName);

    const source = { file: this.node.path, id: this.node.path };
    const spec = compact({
      egressFilter: { type: props.egressFilter ?? MeshFilterType.DROP_ALL },
      serviceDiscovery: props.serviceDiscovery?.ipPreference ? { ipPreference: props.serviceDiscovery.ipPreference } : undefined,
      trustDomain: props.trustDomain,
      tracing: props.tracing && { enabled: props.tracing.enabled, samplingPercentage: props.tracing.samplingPercentage, endpoint: props.tracing.endpoint },
    });
    const renderMesh = (): MeshResource => ({ kind: 'Mesh', name: this.meshName, meshName: this.meshName, source, spec });

    this.plane = new MeshControlPlane(this, 'Weft', {
      meshName: this.meshName,
      trustDomain: this.trustDomain,
      namespace: props.namespace,
      configBucket: props.configBucket,
      certificateAuthority: props.certificateAuthority?.bind(),
      clusters: props.clusters,
      reconcileInterval: props.reconcileInterval,
      certificateSyncInterval: props.certificateSyncInterval,
      certificateLifetime: props.certificateLifetime,
      compile: () => this.registry.compile(),
      taskFamilies: () => this.registry.taskFamilies,
    });
    this.configBucket = this.plane.bucket;
    this.namespace = this.plane.namespace;
    this.certificateAuthorityArn = this.plane.certificateAuthorityArn;
    this.registry = new MeshRegistry(this.meshName, renderMesh, this.plane);
    MeshRegistry.attach(this, this.registry);

    const hasCa = props.certificateAuthority !== undefined;
    this.node.addValidation({
      validate: () => {
        const { errors, configs } = this.registry.compile();
        if (errors.length > 0) return errors.map(formatModelError);
        return hasCa ? [] : meshIdentityUsers(configs).map((n) => `${this.node.path}: ${n} uses the mesh identity (TlsCertificate.sds/meshIdentity or TlsValidationTrust.sds/acm/meshTrust), which needs MeshProps.certificateAuthority, got: none`);
      },
    });
  }

  /** Weft: adds a CloudWatch dashboard of this mesh's sidecar metrics (see {@link MeshDashboard}). */
  addDashboard(id: string, options: MeshDashboardOptions = {}): MeshDashboard {
    return new MeshDashboard(this, id, { ...options, mesh: this });
  }

  /** Weft: adds alarms on this mesh's sidecar metrics (see {@link MeshAlarms}). */
  addAlarms(id: string, options: MeshAlarmsOptions = {}): MeshAlarms {
    return new MeshAlarms(this, id, { ...options, mesh: this });
  }
}

/** Nodes and gateways whose TLS needs certificates or trust from the mesh CA. */
function meshIdentityUsers(configs: readonly NodeConfig[]): string[] {
  const fromMesh = (ref: { mesh?: true } | object | undefined) => ref !== undefined && 'mesh' in ref;
  return configs
    .filter((c) => {
      const servers = [...c.inbound.listeners, ...(c.gateway?.listeners ?? [])].filter((l) => l.tls.mode !== 'DISABLED');
      const clients = c.clusters.filter((cl) => cl.tls.mode !== 'DISABLED');
      return (
        servers.some((l) => fromMesh(l.tls.certificate) || fromMesh(l.tls.validation?.trust)) ||
        clients.some((cl) => fromMesh(cl.tls.certificate) || fromMesh(cl.tls.trust))
      );
    })
    .map((c) => `${c.node.kind === 'virtualNode' ? 'VirtualNode' : 'VirtualGateway'}/${c.node.name}`);
}
