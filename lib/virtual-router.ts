import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { IMesh } from './mesh';
import { checkCount, checkLiteralName } from './private/checks';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { MeshRegistry } from './private/registry';
import { Route, type RouteBaseProps } from './route';
import { VirtualRouterListener } from './virtual-router-listener';

/** A virtual router, defined here or imported. */
export interface IVirtualRouter extends cdk.IResource {
  /**
   * The router name.
   * @attribute
   */
  readonly virtualRouterName: string;
  /**
   * An App Mesh-shaped ARN of the router.
   * @attribute
   */
  readonly virtualRouterArn: string;
  /** The mesh of the router. */
  readonly mesh: IMesh;
  /** Adds a route. */
  addRoute(id: string, props: RouteBaseProps): Route;
}

/** Properties of a virtual router, without its mesh (see `mesh.addVirtualRouter`). */
export interface VirtualRouterBaseProps {
  /**
   * Listeners of the router.
   * @default - one HTTP listener on port 8080
   */
  readonly listeners?: VirtualRouterListener[];
  /**
   * The router name.
   * @default - a name derived from the construct path
   */
  readonly virtualRouterName?: string;
}

/** Properties of a virtual router. */
export interface VirtualRouterProps extends VirtualRouterBaseProps {
  /** The mesh of the router. */
  readonly mesh: IMesh;
}

/** Attributes of an imported virtual router. */
export interface VirtualRouterAttributes {
  /** The router name. */
  readonly virtualRouterName: string;
  /** The mesh of the router. */
  readonly mesh: IMesh;
}

abstract class VirtualRouterBase extends cdk.Resource implements IVirtualRouter {
  abstract readonly virtualRouterName: string;
  abstract readonly virtualRouterArn: string;
  abstract readonly mesh: IMesh;

  addRoute(id: string, props: RouteBaseProps): Route {
    return new Route(this, id, { ...props, mesh: this.mesh, virtualRouter: this });
  }
}

/** A virtual router: routes the traffic of the virtual services it provides to virtual nodes. */
export class VirtualRouter extends VirtualRouterBase {
  /** Imports a router by App Mesh-shaped ARN. */
  static fromVirtualRouterArn(scope: Construct, id: string, virtualRouterArn: string): IVirtualRouter {
    const [meshName, name] = parseChildArn(virtualRouterArn, 'virtualRouter');
    return new ImportedVirtualRouter(scope, id, name, virtualRouterArn, importedMesh(scope, `${id}Mesh`, meshName));
  }
  /** Imports a router by name. */
  static fromVirtualRouterAttributes(scope: Construct, id: string, attrs: VirtualRouterAttributes): IVirtualRouter {
    return new ImportedVirtualRouter(scope, id, attrs.virtualRouterName, childArn(scope, attrs.mesh.meshName, 'virtualRouter', attrs.virtualRouterName), attrs.mesh);
  }

  readonly virtualRouterName: string;
  readonly virtualRouterArn: string;
  readonly mesh: IMesh;

  constructor(scope: Construct, id: string, props: VirtualRouterProps) {
    super(scope, id);
    this.mesh = props.mesh;
    const registry = MeshRegistry.of(props.mesh, `VirtualRouter ${this.node.path}`);
    this.virtualRouterName = props.virtualRouterName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('virtualRouterName', this.virtualRouterName);
    this.virtualRouterArn = childArn(this, this.mesh.meshName, 'virtualRouter', this.virtualRouterName);
    const listeners = (props.listeners ?? [VirtualRouterListener.http()]).map((l) => l.bind(this).listener);
    checkCount('Virtual router listeners', listeners, 1, 10);
    const source = { file: this.node.path, id: this.node.path };
    registry.add(() => ({ kind: 'VirtualRouter', name: this.virtualRouterName, meshName: this.mesh.meshName, source, spec: { listeners } }));
  }
}

class ImportedVirtualRouter extends VirtualRouterBase {
  constructor(
    scope: Construct,
    id: string,
    readonly virtualRouterName: string,
    readonly virtualRouterArn: string,
    readonly mesh: IMesh,
  ) {
    super(scope, id);
  }
}
