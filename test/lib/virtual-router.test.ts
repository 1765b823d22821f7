import { Template } from 'aws-cdk-lib/assertions';
import * as weft from '../../lib';
import { newStack, publishedConfigs } from './synth-helpers';

describe('VirtualRouter', () => {
  test('defaults to one HTTP listener on 8080 and routes only what fits each listener', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const node = mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    // WHEN
    const router = new weft.VirtualRouter(stack, 'Router', { mesh, virtualRouterName: 'router' });
    router.addRoute('All', { routeName: 'all', routeSpec: weft.RouteSpec.http({ weightedTargets: [{ virtualNode: node }] }) });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'router.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(router) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const client = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client')!;
    expect(client.outbound.services[0].listeners).toEqual([expect.objectContaining({ port: 8080, protocol: 'http', routes: [expect.objectContaining({ name: 'router/all' })] })]);
  });

  test('listener ports and counts are checked', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // THEN
    expect(() => weft.VirtualRouterListener.tcp(0)).toThrow(/Router listener port must be an integer between 1 and 65535, got: 0/);
    expect(() => mesh.addVirtualRouter('R', { listeners: [] })).toThrow(/Virtual router listeners must have between 1 and 10 entries, got: 0/);
  });

  test('imports by ARN and attributes; routes can be added to an imported router of a local mesh', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const node = mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http()] });
    mesh.addVirtualRouter('Router', { virtualRouterName: 'router' });
    // WHEN
    const imported = weft.VirtualRouter.fromVirtualRouterAttributes(stack, 'Imported', { virtualRouterName: 'router', mesh });
    imported.addRoute('Late', { routeName: 'late', routeSpec: weft.RouteSpec.http({ weightedTargets: [{ virtualNode: node }] }) });
    const byArn = weft.VirtualRouter.fromVirtualRouterArn(stack, 'ByArn', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/other/virtualRouter/r');
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'router.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(imported) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    expect([byArn.virtualRouterName, byArn.mesh.meshName]).toEqual(['r', 'other']);
    const client = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client')!;
    expect(client.outbound.services[0].listeners[0].routes.map((r) => r.name)).toEqual(['router/late']);
  });
});
