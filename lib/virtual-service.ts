import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { VirtualServiceSpec } from './model/schema';
import type { IMesh } from './mesh';
import { checkLiteralName } from './private/checks';
import { childArn, importedMesh, parseChildArn } from './private/imported-mesh';
import { MeshRegistry } from './private/registry';
import type { IVirtualNode } from './virtual-node';
import type { IVirtualRouter } from './virtual-router';

/** A virtual service, defined here or imported. */
export interface IVirtualService extends cdk.IResource {
  /**
   * The service name (the name apps call it by, e.g. `orders.shop.local`).
   * @attribute
   */
  readonly virtualServiceName: string;
  /**
   * An App Mesh-shaped ARN of the service.
   * @attribute
   */
  readonly virtualServiceArn: string;
  /** The mesh of the service. */
  readonly mesh: IMesh;
}

/** Properties of a virtual service. */
export interface VirtualServiceProps {
  /**
   * The service name; apps address the service by it, so an FQDN is recommended.
   * @default - a name derived from the construct path
   */
  readonly virtualServiceName?: string;
  /** The node or router that provides the service. */
  readonly virtualServiceProvider: VirtualServiceProvider;
}

/** Attributes of an imported virtual service. */
export interface VirtualServiceAttributes {
  /** The service name. */
  readonly virtualServiceName: string;
  /** The mesh of the service. */
  readonly mesh: IMesh;
}

/** What {@link VirtualServiceProvider.bind} returns. */
export interface VirtualServiceProviderConfig {
  /**
   * The model's provider.
   * @default - no provider
   */
  readonly provider?: VirtualServiceSpec['provider'];
  /** The mesh of the provider. */
  readonly mesh: IMesh;
}

/** What provides a virtual service. */
export abstract class VirtualServiceProvider {
  /** A virtual node provides the service directly. */
  static virtualNode(virtualNode: IVirtualNode): VirtualServiceProvider {
    return new ProviderOf(virtualNode.mesh, { virtualNode: { virtualNodeName: virtualNode.virtualNodeName } });
  }
  /** A virtual router routes the service's traffic. */
  static virtualRouter(virtualRouter: IVirtualRouter): VirtualServiceProvider {
    return new ProviderOf(virtualRouter.mesh, { virtualRouter: { virtualRouterName: virtualRouter.virtualRouterName } });
  }
  /** No provider (a placeholder: calls to the service fail). */
  static none(mesh: IMesh): VirtualServiceProvider {
    return new ProviderOf(mesh, undefined);
  }
  /** Renders the provider. */
  abstract bind(scope: Construct): VirtualServiceProviderConfig;
}

class ProviderOf extends VirtualServiceProvider {
  constructor(
    private readonly mesh: IMesh,
    private readonly provider: VirtualServiceSpec['provider'],
  ) {
    super();
  }
  bind(_scope: Construct): VirtualServiceProviderConfig {
    return { mesh: this.mesh, provider: this.provider };
  }
}

/** A virtual service: a name apps call, provided by a virtual node or routed by a virtual router. */
export class VirtualService extends cdk.Resource implements IVirtualService {
  /** Imports a virtual service by App Mesh-shaped ARN. */
  static fromVirtualServiceArn(scope: Construct, id: string, virtualServiceArn: string): IVirtualService {
    const [meshName, name] = parseChildArn(virtualServiceArn, 'virtualService');
    return new ImportedVirtualService(scope, id, name, virtualServiceArn, importedMesh(scope, `${id}Mesh`, meshName));
  }
  /** Imports a virtual service by name. */
  static fromVirtualServiceAttributes(scope: Construct, id: string, attrs: VirtualServiceAttributes): IVirtualService {
    return new ImportedVirtualService(scope, id, attrs.virtualServiceName, childArn(scope, attrs.mesh.meshName, 'virtualService', attrs.virtualServiceName), attrs.mesh);
  }

  readonly virtualServiceName: string;
  readonly virtualServiceArn: string;
  readonly mesh: IMesh;

  constructor(scope: Construct, id: string, props: VirtualServiceProps) {
    super(scope, id);
    const provider = props.virtualServiceProvider.bind(this);
    this.mesh = provider.mesh;
    const registry = MeshRegistry.of(this.mesh, `VirtualService ${this.node.path}`);
    this.virtualServiceName = props.virtualServiceName ?? cdk.Names.uniqueResourceName(this, { maxLength: 255 });
    checkLiteralName('virtualServiceName', this.virtualServiceName);
    this.virtualServiceArn = childArn(this, this.mesh.meshName, 'virtualService', this.virtualServiceName);
    const source = { file: this.node.path, id: this.node.path };
    registry.add(() => ({
      kind: 'VirtualService',
      name: this.virtualServiceName,
      meshName: this.mesh.meshName,
      source,
      spec: provider.provider ? { provider: provider.provider } : {},
    }));
  }
}

class ImportedVirtualService extends cdk.Resource implements IVirtualService {
  constructor(
    scope: Construct,
    id: string,
    readonly virtualServiceName: string,
    readonly virtualServiceArn: string,
    readonly mesh: IMesh,
  ) {
    super(scope, id);
  }
}
