import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { IMesh } from './mesh';
import { checkLiteralName } from './private/checks';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { checkFieldsApplied } from './private/not-applied';
import { MeshRegistry } from './private/registry';
import { routeSpecModel, type RouteSpec } from './route-spec';
import { VirtualRouter, type IVirtualRouter } from './virtual-router';

/** A route, defined here or imported. */
export interface IRoute extends cdk.IResource {
  /**
   * The route name.
   * @attribute
   */
  readonly routeName: string;
  /**
   * An App Mesh-shaped ARN of the route.
   * @attribute
   */
  readonly routeArn: string;
  /** The router of the route. */
  readonly virtualRouter: IVirtualRouter;
}

/** Properties of a route, without its router (see `router.addRoute`). */
export interface RouteBaseProps {
  /**
   * The route name.
   * @default - a name derived from the construct path
   */
  readonly routeName?: string;
  /** The protocol-specific spec. */
  readonly routeSpec: RouteSpec;
}

/** Properties of a route. */
export interface RouteProps extends RouteBaseProps {
  /** The mesh of the route. */
  readonly mesh: IMesh;
  /** The router of the route. */
  readonly virtualRouter: IVirtualRouter;
}

/** Attributes of an imported route. */
export interface RouteAttributes {
  /** The route name. */
  readonly routeName: string;
  /** The router of the route. */
  readonly virtualRouter: IVirtualRouter;
}

/** A route of a virtual router: matches requests and sends them to weighted virtual nodes. */
export class Route extends cdk.Resource implements IRoute {
  /** Imports a route by App Mesh-shaped ARN. */
  static fromRouteArn(scope: Construct, id: string, routeArn: string): IRoute {
    const [meshName, routerName, kind, routeName] = parseChildArn(routeArn, 'virtualRouter');
    if (kind !== 'route' || routeName === undefined) throw new Error(`not a route ARN (.../mesh/<mesh>/virtualRouter/<router>/route/<name>), got: ${routeArn}`);
    const virtualRouter = VirtualRouter.fromVirtualRouterAttributes(scope, `${id}Router`, { virtualRouterName: routerName, mesh: importedMesh(scope, `${id}Mesh`, meshName) });
    return new ImportedRoute(scope, id, routeName, routeArn, virtualRouter);
  }
  /** Imports a route by name. */
  static fromRouteAttributes(scope: Construct, id: string, attrs: RouteAttributes): IRoute {
    const arn = childArn(scope, attrs.virtualRouter.mesh.meshName, 'virtualRouter', `${attrs.virtualRouter.virtualRouterName}/route/${attrs.routeName}`);
    return new ImportedRoute(scope, id, attrs.routeName, arn, attrs.virtualRouter);
  }

  readonly routeName: string;
  readonly routeArn: string;
  readonly virtualRouter: IVirtualRouter;

  constructor(scope: Construct, id: string, props: RouteProps) {
    super(scope, id);
    this.virtualRouter = props.virtualRouter;
    const registry = MeshRegistry.of(props.mesh, `Route ${this.node.path}`);
    this.routeName = props.routeName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('routeName', this.routeName);
    this.routeArn = childArn(this, props.mesh.meshName, 'virtualRouter', `${this.virtualRouter.virtualRouterName}/route/${this.routeName}`);
    const spec = routeSpecModel(props.routeSpec.bind(this));
    checkFieldsApplied(this, { kind: 'Route', spec });
    const source = { file: this.node.path, id: this.node.path };
    registry.add(() => ({
      kind: 'Route',
      name: this.routeName,
      meshName: props.mesh.meshName,
      virtualRouterName: this.virtualRouter.virtualRouterName,
      source,
      spec,
    }));
  }
}

class ImportedRoute extends cdk.Resource implements IRoute {
  constructor(
    scope: Construct,
    id: string,
    readonly routeName: string,
    readonly routeArn: string,
    readonly virtualRouter: IVirtualRouter,
  ) {
    super(scope, id);
  }
}
