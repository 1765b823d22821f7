/** Assembling a {@link MeshModel} from resources, the same way for every front end. */
import type { MeshModel, MeshResource, Resource } from './schema';

export function emptyMeshModel(mesh: MeshResource): MeshModel {
  return { mesh, virtualNodes: [], virtualServices: [], virtualRouters: [], routes: [], virtualGateways: [], gatewayRoutes: [] };
}

/** Adds a resource to the list of its kind. */
export function addToMeshModel(model: MeshModel, r: Exclude<Resource, MeshResource>): void {
  switch (r.kind) {
    case 'VirtualNode':
      model.virtualNodes.push(r);
      break;
    case 'VirtualService':
      model.virtualServices.push(r);
      break;
    case 'VirtualRouter':
      model.virtualRouters.push(r);
      break;
    case 'Route':
      model.routes.push(r);
      break;
    case 'VirtualGateway':
      model.virtualGateways.push(r);
      break;
    case 'GatewayRoute':
      model.gatewayRoutes.push(r);
      break;
  }
}
