import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { gatewayRouteSpecModel, type GatewayRouteSpec } from './gateway-route-spec';
import { checkLiteralName } from './private/checks';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { MeshRegistry } from './private/registry';
import { VirtualGateway, type IVirtualGateway } from './virtual-gateway';

/** A gateway route, defined here or imported. */
export interface IGatewayRoute extends cdk.IResource {
  /**
   * The gateway route name.
   * @attribute
   */
  readonly gatewayRouteName: string;
  /**
   * An App Mesh-shaped ARN of the gateway route.
   * @attribute
   */
  readonly gatewayRouteArn: string;
  /** The gateway of the route. */
  readonly virtualGateway: IVirtualGateway;
}

/** Properties of a gateway route, without its gateway (see `gateway.addGatewayRoute`). */
export interface GatewayRouteBaseProps {
  /**
   * The gateway route name.
   * @default - a name derived from the construct path
   */
  readonly gatewayRouteName?: string;
  /** The protocol-specific spec. */
  readonly routeSpec: GatewayRouteSpec;
}

/** Properties of a gateway route. */
export interface GatewayRouteProps extends GatewayRouteBaseProps {
  /** The gateway of the route. */
  readonly virtualGateway: IVirtualGateway;
}

/** Attributes of an imported gateway route. */
export interface GatewayRouteAttributes {
  /** The gateway route name. */
  readonly gatewayRouteName: string;
  /** The gateway of the route. */
  readonly virtualGateway: IVirtualGateway;
}

/** A gateway route: sends matching requests that reach a virtual gateway to a virtual service. */
export class GatewayRoute extends cdk.Resource implements IGatewayRoute {
  /** Imports a gateway route by App Mesh-shaped ARN. */
  static fromGatewayRouteArn(scope: Construct, id: string, gatewayRouteArn: string): IGatewayRoute {
    const [meshName, gatewayName, kind, routeName] = parseChildArn(gatewayRouteArn, 'virtualGateway');
    if (kind !== 'gatewayRoute' || routeName === undefined) throw new Error(`not a gateway route ARN (.../mesh/<mesh>/virtualGateway/<gateway>/gatewayRoute/<name>), got: ${gatewayRouteArn}`);
    const virtualGateway = VirtualGateway.fromVirtualGatewayAttributes(scope, `${id}Gateway`, { virtualGatewayName: gatewayName, mesh: importedMesh(scope, `${id}Mesh`, meshName) });
    return new ImportedGatewayRoute(scope, id, routeName, gatewayRouteArn, virtualGateway);
  }
  /** Imports a gateway route by name. */
  static fromGatewayRouteAttributes(scope: Construct, id: string, attrs: GatewayRouteAttributes): IGatewayRoute {
    const g = attrs.virtualGateway;
    return new ImportedGatewayRoute(scope, id, attrs.gatewayRouteName, childArn(scope, g.mesh.meshName, 'virtualGateway', `${g.virtualGatewayName}/gatewayRoute/${attrs.gatewayRouteName}`), g);
  }

  readonly gatewayRouteName: string;
  readonly gatewayRouteArn: string;
  readonly virtualGateway: IVirtualGateway;

  constructor(scope: Construct, id: string, props: GatewayRouteProps) {
    super(scope, id);
    this.virtualGateway = props.virtualGateway;
    const mesh = this.virtualGateway.mesh;
    const registry = MeshRegistry.of(mesh, `GatewayRoute ${this.node.path}`);
    this.gatewayRouteName = props.gatewayRouteName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('gatewayRouteName', this.gatewayRouteName);
    this.gatewayRouteArn = childArn(this, mesh.meshName, 'virtualGateway', `${this.virtualGateway.virtualGatewayName}/gatewayRoute/${this.gatewayRouteName}`);
    const spec = gatewayRouteSpecModel(props.routeSpec.bind(this));
    const source = { file: this.node.path, id: this.node.path };
    registry.add(() => ({
      kind: 'GatewayRoute',
      name: this.gatewayRouteName,
      meshName: mesh.meshName,
      virtualGatewayName: this.virtualGateway.virtualGatewayName,
      source,
      spec,
    }));
  }
}

class ImportedGatewayRoute extends cdk.Resource implements IGatewayRoute {
  constructor(
    scope: Construct,
    id: string,
    readonly gatewayRouteName: string,
    readonly gatewayRouteArn: string,
    readonly virtualGateway: IVirtualGateway,
  ) {
    super(scope, id);
  }
}
