import * as cdk from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { VirtualNodeSpec } from './model/schema';
import type { IMesh } from './mesh';
import { checkCount, checkLiteralName } from './private/checks';
import { grantSidecar } from './private/grants';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { compact } from './private/model-shapes';
import { checkFieldsApplied } from './private/not-applied';
import { MeshRegistry } from './private/registry';
import { addSidecar } from './private/sidecar';
import { ServiceDiscovery, type ServiceDiscoveryConfig } from './service-discovery';
import type { AccessLog, Backend, BackendDefaults } from './shared-interfaces';
import type { VirtualNodeSidecarOptions } from './sidecar';
import { renderClientPolicy } from './tls-client-policy';
import type { VirtualNodeListener, VirtualNodeListenerSpec } from './virtual-node-listener';
import { renderAuthorization, renderJwt, renderRateLimit, type AuthorizationPolicy, type JwtRule, type LoadBalancer, type RateLimit } from './weft-policies';

/** A virtual node, defined here or imported. */
export interface IVirtualNode extends cdk.IResource {
  /**
   * The node name.
   * @attribute
   */
  readonly virtualNodeName: string;
  /**
   * An App Mesh-shaped ARN of the node.
   * @attribute
   */
  readonly virtualNodeArn: string;
  /** The mesh of the node. */
  readonly mesh: IMesh;
}

/** Properties of a virtual node, without its mesh (see `mesh.addVirtualNode`). */
export interface VirtualNodeBaseProps {
  /**
   * The node name.
   * @default - a name derived from the construct path
   */
  readonly virtualNodeName?: string;
  /**
   * How callers find this node's endpoints.
   * @default - none; a node with listeners gets `ServiceDiscovery.cloudMapName(<node name>)`
   */
  readonly serviceDiscovery?: ServiceDiscovery;
  /**
   * Virtual services this node may call.
   * @default - no backends
   */
  readonly backends?: Backend[];
  /**
   * Ports of the local app.
   * @default - no listeners
   */
  readonly listeners?: VirtualNodeListener[];
  /**
   * Access log of the sidecar. The sidecar does not write access logs yet: the log is carried in
   * the node config and `cdk synth` warns.
   * @default - no access log
   */
  readonly accessLog?: AccessLog;
  /**
   * Client policy of every backend.
   * @default - none
   */
  readonly backendDefaults?: BackendDefaults;
  /**
   * Weft: how callers balance over this node's endpoints.
   * @default - round robin, no zone preference
   */
  readonly loadBalancer?: LoadBalancer;
  /**
   * Weft: Istio-shaped authorization policies on traffic entering this node. Refused until the
   * sidecar enforces them: a node with policies throws, rather than run without them.
   * @default - every request is allowed
   */
  readonly authorization?: AuthorizationPolicy[];
  /**
   * Weft: JWT rules (Istio RequestAuthentication) on traffic entering this node: a present but
   * invalid token is refused with 401; a valid one gives the request a principal for `authorization`.
   * @default - no JWT validation
   */
  readonly jwt?: JwtRule[];
  /**
   * Weft: local rate limit of traffic entering this node, enforced by each of its sidecars (so
   * per replica), optionally with buckets per caller (`perKey`).
   * @default - no limit
   */
  readonly rateLimit?: RateLimit;
}

/** Properties of a virtual node. */
export interface VirtualNodeProps extends VirtualNodeBaseProps {
  /** The mesh of the node. */
  readonly mesh: IMesh;
}

/** Attributes of an imported virtual node. */
export interface VirtualNodeAttributes {
  /** The node name. */
  readonly virtualNodeName: string;
  /** The mesh of the node. */
  readonly mesh: IMesh;
}

abstract class VirtualNodeBase extends cdk.Resource implements IVirtualNode {
  abstract readonly virtualNodeName: string;
  abstract readonly virtualNodeArn: string;
  abstract readonly mesh: IMesh;
}

/**
 * A virtual node: the sidecar and app of one task group. Inbound traffic reaches the app through
 * listeners; outbound traffic may go to backends.
 */
export class VirtualNode extends VirtualNodeBase {
  /** Imports a node by App Mesh-shaped ARN (`.../mesh/<mesh>/virtualNode/<name>`). */
  static fromVirtualNodeArn(scope: Construct, id: string, virtualNodeArn: string): IVirtualNode {
    const [meshName, name] = parseChildArn(virtualNodeArn, 'virtualNode');
    return new ImportedVirtualNode(scope, id, name, virtualNodeArn, importedMesh(scope, `${id}Mesh`, meshName));
  }
  /** Imports a node by name. */
  static fromVirtualNodeAttributes(scope: Construct, id: string, attrs: VirtualNodeAttributes): IVirtualNode {
    return new ImportedVirtualNode(scope, id, attrs.virtualNodeName, childArn(scope, attrs.mesh.meshName, 'virtualNode', attrs.virtualNodeName), attrs.mesh);
  }

  readonly virtualNodeName: string;
  readonly virtualNodeArn: string;
  readonly mesh: IMesh;

  private readonly registry: MeshRegistry;
  private readonly listeners: VirtualNodeListenerSpec[] = [];
  private readonly backends: NonNullable<VirtualNodeSpec['backends']> = [];
  private discovery?: ServiceDiscoveryConfig;
  private readonly fixedSpec: Partial<VirtualNodeSpec>;

  constructor(scope: Construct, id: string, props: VirtualNodeProps) {
    super(scope, id);
    this.mesh = props.mesh;
    this.registry = MeshRegistry.of(props.mesh, `VirtualNode ${this.node.path}`);
    this.virtualNodeName = props.virtualNodeName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('virtualNodeName', this.virtualNodeName);
    this.virtualNodeArn = childArn(this, this.mesh.meshName, 'virtualNode', this.virtualNodeName);
    this.discovery = props.serviceDiscovery?.bind(this, this.mesh);
    this.fixedSpec = compact({
      backendDefaults: props.backendDefaults?.tlsClientPolicy ? { clientPolicy: renderClientPolicy(this, props.backendDefaults.tlsClientPolicy) } : undefined,
      logging: props.accessLog ? { accessLog: props.accessLog.bind(this).virtualNodeAccessLog } : undefined,
      loadBalancer: props.loadBalancer?.bind(),
      authorization: renderAuthorization(props.authorization),
      jwt: renderJwt(props.jwt),
      rateLimit: renderRateLimit(props.rateLimit),
    });
    checkFieldsApplied(this, { kind: 'VirtualNode', spec: this.renderSpec() });
    props.listeners?.forEach((l) => this.addListener(l));
    props.backends?.forEach((b) => this.addBackend(b));

    const source = { file: this.node.path, id: this.node.path };
    this.registry.add(() => ({ kind: 'VirtualNode', name: this.virtualNodeName, meshName: this.mesh.meshName, source, spec: this.renderSpec() }));
  }

  /** Adds a listener (a port of the local app). */
  addListener(listener: VirtualNodeListener): void {
    this.listeners.push(listener.bind(this).listener);
    checkCount('Virtual node listeners', this.listeners, 0, 10);
    // Peers can only reach a node that is registered somewhere; Cloud Map in the mesh's namespace is free.
    this.discovery ??= ServiceDiscovery.cloudMapName(this.virtualNodeName).bind(this, this.mesh);
    checkFieldsApplied(this, { kind: 'VirtualNode', spec: this.renderSpec() });
    this.registry.touch();
  }

  /** The node's model spec as it stands. */
  private renderSpec(): VirtualNodeSpec {
    return compact({
      listeners: this.listeners.length > 0 ? [...this.listeners] : undefined,
      serviceDiscovery: this.discovery?.discovery,
      backends: this.backends.length > 0 ? [...this.backends] : undefined,
      ...this.fixedSpec,
    });
  }

  /** Adds a virtual service this node may call. */
  addBackend(backend: Backend): void {
    this.backends.push(backend.bind(this).virtualServiceBackend);
    this.registry.touch();
  }

  /** The Cloud Map service this node's tasks are registered in, when it uses Cloud Map. */
  get cloudMapRegistration(): ServiceDiscoveryConfig['cloudMap'] {
    return this.discovery?.cloudMap;
  }

  /**
   * Weft: grants a sidecar of this node what it needs and nothing more: its config and the trust
   * bundle from S3, DiscoverInstances on its backends' Cloud Map services, its certificate
   * secret, and UpdateInstanceCustomHealthStatus on its own Cloud Map service when that service
   * has a custom health config (services the Mesh creates: `ServiceDiscovery.cloudMapName`).
   */
  grantSidecar(grantee: iam.IGrantable): iam.Grant {
    return grantSidecar(this, this.registry, this.mesh.meshName, this.virtualNodeName, grantee, this.ownHealthService());
  }

  private ownHealthService(): { serviceId: string } | undefined {
    const cloudMap = this.discovery?.cloudMap;
    return cloudMap?.customHealthStatus ? { serviceId: cloudMap.serviceId } : undefined;
  }

  /** App Mesh's grant for Envoy; in Weft it grants what the Weft sidecar needs (see grantSidecar). */
  grantStreamAggregatedResources(identity: iam.IGrantable): iam.Grant {
    return this.grantSidecar(identity);
  }

  /**
   * Weft: runs this node's sidecar in `taskDefinition` (awsvpc only) beside `options.appContainer`:
   * adds the container, orders the app's start after the sidecar is healthy, sets the
   * ProxyConfiguration (transparent mode) or HTTP_PROXY (explicit mode), grants the task role and
   * registers the task definition family so discovery sync registers its tasks.
   */
  addToTaskDefinition(taskDefinition: ecs.TaskDefinition, options: VirtualNodeSidecarOptions): ecs.ContainerDefinition {
    const sidecar = addSidecar(this, taskDefinition, {
      kind: 'virtualNode',
      name: this.virtualNodeName,
      meshName: this.mesh.meshName,
      registry: this.registry,
      listenerPorts: this.listeners.map((l) => l.portMapping.port),
      appContainer: options.appContainer,
      cloudMapServiceId: this.ownHealthService()?.serviceId,
    }, options);
    const cloudMap = this.discovery?.cloudMap;
    if (cloudMap) {
      const port = sidecarInboundPort(options);
      this.registry.addTaskFamily(taskDefinition.family, this.virtualNodeName, () => ({
        mesh: this.mesh.meshName,
        node: this.virtualNodeName,
        port,
        cloudMap: { namespaceName: cloudMap.namespaceName, serviceName: cloudMap.serviceName, serviceId: cloudMap.serviceId },
        attributes: cloudMap.attributes,
      }));
    } else {
      cdk.Annotations.of(this).addWarningV2('weft:node-not-registered', `virtual node ${this.virtualNodeName} does not use Cloud Map discovery: its tasks are not registered by discovery sync`);
    }
    this.grantSidecar(taskDefinition.taskRole);
    return sidecar;
  }
}

function sidecarInboundPort(options: VirtualNodeSidecarOptions): number {
  return options.settings?.inboundPort ?? 15000;
}

class ImportedVirtualNode extends VirtualNodeBase {
  constructor(
    scope: Construct,
    id: string,
    readonly virtualNodeName: string,
    readonly virtualNodeArn: string,
    readonly mesh: IMesh,
  ) {
    super(scope, id);
  }
}
