import { Template } from 'aws-cdk-lib/assertions';
import * as weft from '../../lib';
import { newStack, publishedConfigs } from './synth-helpers';

describe('VirtualService', () => {
  test('a service provided by a node gets one default route per node listener', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const node = mesh.addVirtualNode('Node', { virtualNodeName: 'node', listeners: [weft.VirtualNodeListener.http({ port: 8080 }), weft.VirtualNodeListener.grpc({ port: 9090 })] });
    // WHEN
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'node.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualNode(node) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const client = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client')!;
    expect(client.outbound.services[0].listeners.map((l) => [l.port, l.protocol, l.routes[0].name])).toEqual([
      [8080, 'http', 'node.shop.local/default'],
      [9090, 'grpc', 'node.shop.local/default'],
    ]);
    expect(vs.mesh).toBe(mesh);
  });

  test('a service without a provider is a placeholder nobody serves', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // WHEN
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'later.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.none(mesh) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const [client] = publishedConfigs(Template.fromStack(stack));
    expect(client.outbound.services).toEqual([]);
  });

  test('names default to the construct path and must be literal', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    // WHEN
    const vs = new weft.VirtualService(stack, 'Orders', { virtualServiceProvider: weft.VirtualServiceProvider.none(mesh) });
    // THEN
    expect(vs.virtualServiceName).toMatch(/^StackOrders[0-9A-F]{8}$/);
    expect(() => new weft.VirtualService(stack, 'Bad', { virtualServiceName: 'a b', virtualServiceProvider: weft.VirtualServiceProvider.none(mesh) })).toThrow(/virtualServiceName must be 1-255 letters.*got: a b/);
  });

  test('imports by ARN and attributes', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    const byArn = weft.VirtualService.fromVirtualServiceArn(stack, 'A', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualService/orders.shop.local');
    // THEN
    expect([byArn.virtualServiceName, byArn.mesh.meshName]).toEqual(['orders.shop.local', 'shop']);
  });
});
