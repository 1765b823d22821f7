import * as cdk from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { GatewayRoute, type GatewayRouteBaseProps } from './gateway-route';
import type { VirtualGatewaySpec } from './model/schema';
import type { IMesh } from './mesh';
import { checkCount, checkLiteralName } from './private/checks';
import { grantSidecar } from './private/grants';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { compact } from './private/model-shapes';
import { checkFieldsApplied } from './private/not-applied';
import { MeshRegistry } from './private/registry';
import { addSidecar } from './private/sidecar';
import type { AccessLog, BackendDefaults } from './shared-interfaces';
import type { SidecarOptions } from './sidecar';
import { renderClientPolicy } from './tls-client-policy';
import { VirtualGatewayListener } from './virtual-gateway-listener';
import { renderAuthorization, renderJwt, renderRateLimit, type AuthorizationPolicy, type JwtRule, type RateLimit } from './weft-policies';

/** A virtual gateway, defined here or imported. */
export interface IVirtualGateway extends cdk.IResource {
  /**
   * The gateway name.
   * @attribute
   */
  readonly virtualGatewayName: string;
  /**
   * An App Mesh-shaped ARN of the gateway.
   * @attribute
   */
  readonly virtualGatewayArn: string;
  /** The mesh of the gateway. */
  readonly mesh: IMesh;
  /** Adds a gateway route. */
  addGatewayRoute(id: string, route: GatewayRouteBaseProps): GatewayRoute;
}

/** Properties of a virtual gateway, without its mesh (see `mesh.addVirtualGateway`). */
export interface VirtualGatewayBaseProps {
  /**
   * The gateway name.
   * @default - a name derived from the construct path
   */
  readonly virtualGatewayName?: string;
  /**
   * Listeners.
   * @default - one HTTP listener on port 8080
   */
  readonly listeners?: VirtualGatewayListener[];
  /**
   * Access log. The sidecar does not write access logs yet: the log is carried in the node config
   * and `cdk synth` warns.
   * @default - no access log
   */
  readonly accessLog?: AccessLog;
  /**
   * Client policy of every backend.
   * @default - none
   */
  readonly backendDefaults?: BackendDefaults;
  /**
   * Weft: Istio-shaped authorization policies on traffic entering the gateway. Refused until the
   * sidecar enforces them: a gateway with policies throws, rather than run without them.
   * @default - every request is allowed
   */
  readonly authorization?: AuthorizationPolicy[];
  /**
   * Weft: JWT rules (Istio RequestAuthentication) on traffic entering the gateway: a present but
   * invalid token is refused with 401; a valid one gives the request a principal for `authorization`.
   * @default - no JWT validation
   */
  readonly jwt?: JwtRule[];
  /**
   * Weft: local rate limit of traffic entering the gateway, enforced by each of its proxies (so
   * per replica), optionally with buckets per caller (`perKey`).
   * @default - no limit
   */
  readonly rateLimit?: RateLimit;
}

/** Properties of a virtual gateway. */
export interface VirtualGatewayProps extends VirtualGatewayBaseProps {
  /** The mesh of the gateway. */
  readonly mesh: IMesh;
}

/** Attributes of an imported virtual gateway. */
export interface VirtualGatewayAttributes {
  /** The gateway name. */
  readonly virtualGatewayName: string;
  /** The mesh of the gateway. */
  readonly mesh: IMesh;
}

abstract class VirtualGatewayBase extends cdk.Resource implements IVirtualGateway {
  abstract readonly virtualGatewayName: string;
  abstract readonly virtualGatewayArn: string;
  abstract readonly mesh: IMesh;

  addGatewayRoute(id: string, props: GatewayRouteBaseProps): GatewayRoute {
    return new GatewayRoute(this, id, { ...props, virtualGateway: this });
  }
}

/** A virtual gateway: lets traffic from outside the mesh reach virtual services through gateway routes. */
export class VirtualGateway extends VirtualGatewayBase {
  /** Imports a gateway by App Mesh-shaped ARN. */
  static fromVirtualGatewayArn(scope: Construct, id: string, virtualGatewayArn: string): IVirtualGateway {
    const [meshName, name] = parseChildArn(virtualGatewayArn, 'virtualGateway');
    return new ImportedVirtualGateway(scope, id, name, virtualGatewayArn, importedMesh(scope, `${id}Mesh`, meshName));
  }
  /** Imports a gateway by name. */
  static fromVirtualGatewayAttributes(scope: Construct, id: string, attrs: VirtualGatewayAttributes): IVirtualGateway {
    return new ImportedVirtualGateway(scope, id, attrs.virtualGatewayName, childArn(scope, attrs.mesh.meshName, 'virtualGateway', attrs.virtualGatewayName), attrs.mesh);
  }

  readonly virtualGatewayName: string;
  readonly virtualGatewayArn: string;
  readonly mesh: IMesh;
  private readonly registry: MeshRegistry;
  private readonly listenerPorts: number[];

  constructor(scope: Construct, id: string, props: VirtualGatewayProps) {
    super(scope, id);
    this.mesh = props.mesh;
    this.registry = MeshRegistry.of(props.mesh, `VirtualGateway ${this.node.path}`);
    this.virtualGatewayName = props.virtualGatewayName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('virtualGatewayName', this.virtualGatewayName);
    this.virtualGatewayArn = childArn(this, this.mesh.meshName, 'virtualGateway', this.virtualGatewayName);
    const listeners = (props.listeners ?? [VirtualGatewayListener.http()]).map((l) => l.bind(this).listener);
    checkCount('Virtual gateway listeners', listeners, 1, 10);
    this.listenerPorts = listeners.map((l) => l.portMapping.port);
    const spec: VirtualGatewaySpec = compact({
      listeners,
      backendDefaults: props.backendDefaults?.tlsClientPolicy ? { clientPolicy: renderClientPolicy(this, props.backendDefaults.tlsClientPolicy) } : undefined,
      logging: props.accessLog ? { accessLog: props.accessLog.bind(this).virtualGatewayAccessLog } : undefined,
      authorization: renderAuthorization(props.authorization),
      jwt: renderJwt(props.jwt),
      rateLimit: renderRateLimit(props.rateLimit),
    });
    checkFieldsApplied(this, { kind: 'VirtualGateway', spec });
    const source = { file: this.node.path, id: this.node.path };
    this.registry.add(() => ({ kind: 'VirtualGateway', name: this.virtualGatewayName, meshName: this.mesh.meshName, source, spec }));
  }

  /** Weft: grants a gateway sidecar its config, backends' discovery and certificate (see VirtualNode.grantSidecar). */
  grantSidecar(grantee: iam.IGrantable): iam.Grant {
    return grantSidecar(this, this.registry, this.mesh.meshName, this.virtualGatewayName, grantee);
  }

  /** App Mesh's grant for Envoy; in Weft it grants what the Weft sidecar needs (see grantSidecar). */
  grantStreamAggregatedResources(identity: iam.IGrantable): iam.Grant {
    return this.grantSidecar(identity);
  }

  /**
   * Weft: runs this gateway's proxy in `taskDefinition` (awsvpc only), listening on the gateway's
   * listener ports (put a load balancer in front), and grants the task role.
   */
  addToTaskDefinition(taskDefinition: ecs.TaskDefinition, options: SidecarOptions = {}): ecs.ContainerDefinition {
    if (options.transparent) throw new Error('a virtual gateway runs alone in its task: transparent mode is for virtual nodes, got: transparent true');
    const container = addSidecar(this, taskDefinition, {
      kind: 'virtualGateway',
      name: this.virtualGatewayName,
      meshName: this.mesh.meshName,
      registry: this.registry,
      listenerPorts: this.listenerPorts,
    }, options);
    this.grantSidecar(taskDefinition.taskRole);
    return container;
  }
}

class ImportedVirtualGateway extends VirtualGatewayBase {
  constructor(
    scope: Construct,
    id: string,
    readonly virtualGatewayName: string,
    readonly virtualGatewayArn: string,
    readonly mesh: IMesh,
  ) {
    super(scope, id);
  }
}
