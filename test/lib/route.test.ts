import * as cdk from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { HttpRoute } from '../../proxy/contracts';
import * as weft from '../../lib';
import { newStack, publishedConfigs } from './synth-helpers';

/** A router with two nodes behind it and a client that calls it. */
function routedMesh() {
  const stack = newStack();
  const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
  const v1 = mesh.addVirtualNode('V1', { virtualNodeName: 'v1', listeners: [weft.VirtualNodeListener.http()] });
  const v2 = mesh.addVirtualNode('V2', { virtualNodeName: 'v2', listeners: [weft.VirtualNodeListener.http()] });
  const router = mesh.addVirtualRouter('Router', { virtualRouterName: 'orders' });
  const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'orders.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(router) });
  mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
  const clientRoutes = () => publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client')!.outbound.services[0].listeners[0].routes as HttpRoute[];
  return { stack, mesh, v1, v2, router, clientRoutes };
}

describe('Route', () => {
  test('an HTTP route compiles to the caller\'s outbound route: match, weights, retries, timeout', () => {
    // GIVEN
    const { router, v1, v2, clientRoutes } = routedMesh();
    // WHEN
    router.addRoute('Canary', {
      routeName: 'canary',
      routeSpec: weft.RouteSpec.http({
        priority: 0,
        match: {
          path: weft.HttpRoutePathMatch.startsWith('/api'),
          headers: [weft.HeaderMatch.valueIs('x-canary', 'true'), weft.HeaderMatch.valueDoesNotStartWith('user-agent', 'bot')],
          method: weft.HttpRouteMethod.POST,
          queryParameters: [weft.QueryParameterMatch.valueIs('beta', '1')],
        },
        weightedTargets: [{ virtualNode: v1, weight: 90 }, { virtualNode: v2, weight: 10 }],
        retryPolicy: { retryAttempts: 3, retryTimeout: cdk.Duration.seconds(2), httpRetryEvents: [weft.HttpRetryEvent.SERVER_ERROR], tcpRetryEvents: [weft.TcpRetryEvent.CONNECTION_ERROR] },
        timeout: { perRequest: cdk.Duration.seconds(10), idle: cdk.Duration.seconds(30) },
      }),
    });
    // THEN
    const [route] = clientRoutes();
    expect(route).toMatchObject({
      protocol: 'http',
      name: 'orders/canary',
      priority: 0,
      match: {
        path: { prefix: '/api' },
        headers: [
          { name: 'x-canary', match: { exact: 'true' }, invert: false },
          { name: 'user-agent', match: { prefix: 'bot' }, invert: true },
        ],
        method: 'POST',
        queryParameters: [{ name: 'beta', match: { exact: '1' } }],
      },
      action: { weightedTargets: [{ cluster: 'v1:8080', weight: 90 }, { cluster: 'v2:8080', weight: 10 }] },
      retryPolicy: { maxRetries: 3, perTryTimeoutMs: 2000, httpRetryEvents: ['server-error'], tcpRetryEvents: ['connection-error'] },
      timeout: { perRequestMs: 10000, idleMs: 30000 },
    });
  });

  test('Weft route extensions: fault, mirror, header rules, rewrite, redirect', () => {
    // GIVEN
    const { router, v1, v2, clientRoutes } = routedMesh();
    // WHEN
    router.addRoute('Old', {
      routeName: 'old',
      routeSpec: weft.RouteSpec.http({ priority: 0, match: { path: weft.HttpRoutePathMatch.exactly('/old') }, weightedTargets: [], redirect: { path: '/new', responseCode: 308 } }),
    });
    router.addRoute('Main', {
      routeName: 'main',
      routeSpec: weft.RouteSpec.http({
        priority: 1,
        match: { path: weft.HttpRoutePathMatch.startsWith('/v1/') },
        weightedTargets: [{ virtualNode: v1 }],
        fault: { abort: { percentage: 5, httpStatus: 503 }, delay: { percentage: 10, fixedDelay: cdk.Duration.millis(200) } },
        mirror: { virtualNode: v2, percentage: 25 },
        headers: { request: { set: { 'x-env': 'prod' }, remove: ['x-debug'] }, response: { add: { 'x-served-by': 'weft' } } },
        rewrite: { prefix: '/' },
      }),
    });
    // THEN
    const [old, main] = clientRoutes();
    expect(old.action).toEqual({ redirect: { path: '/new', responseCode: 308 } });
    expect(main).toMatchObject({
      fault: { abort: { percentage: 5, httpStatus: 503 }, delay: { percentage: 10, fixedDelayMs: 200 } },
      mirror: { cluster: 'v2:8080', percentage: 25 },
      headers: { request: { set: [{ name: 'x-env', value: 'prod' }], remove: ['x-debug'] }, response: { add: [{ name: 'x-served-by', value: 'weft' }] } },
      rewrite: { prefix: '/' },
    });
  });

  test('retries, faults and mirrors the user wrote are warned about on the route, with their field paths', () => {
    // GIVEN
    const { stack, router, v1, v2 } = routedMesh();
    const retryPolicy = { retryAttempts: 3, retryTimeout: cdk.Duration.seconds(2), httpRetryEvents: [weft.HttpRetryEvent.SERVER_ERROR] };
    // WHEN
    router.addRoute('Retries', { routeName: 'retries', routeSpec: weft.RouteSpec.http({ priority: 0, weightedTargets: [{ virtualNode: v1 }], retryPolicy }) });
    router.addRoute('Faulty', {
      routeName: 'faulty',
      routeSpec: weft.RouteSpec.http({ priority: 1, weightedTargets: [{ virtualNode: v1 }], fault: { abort: { percentage: 5, httpStatus: 503 } }, mirror: { virtualNode: v2 } }),
    });
    router.addRoute('NoRetries', {
      routeName: 'no-retries',
      routeSpec: weft.RouteSpec.http({ priority: 2, weightedTargets: [{ virtualNode: v2 }], retryPolicy: { ...retryPolicy, retryAttempts: 0 } }),
    });
    router.addRoute('Default', { routeName: 'default', routeSpec: weft.RouteSpec.http({ priority: 3, weightedTargets: [{ virtualNode: v2 }] }) });
    // THEN
    const annotations = Annotations.fromStack(stack);
    const warnings = (path: string) => annotations.findWarning(path, Match.anyValue()).map((w) => String(w.entry.data));
    expect(warnings('/Stack/Mesh/Router/Retries')).toEqual([
      'spec.httpRoute.retryPolicy: the sidecar does not apply retry policies yet: each HTTP and gRPC request is tried once, got: maxRetries 3 [ack: weft:field-not-applied:retryPolicy]',
    ]);
    // Faults and mirrors are applied by the sidecar: no warning.
    annotations.hasNoWarning('/Stack/Mesh/Router/Faulty', Match.anyValue());
    // A policy that retries nothing asks for what the sidecar does; the mesh default is not the user's.
    annotations.hasNoWarning('/Stack/Mesh/Router/NoRetries', Match.anyValue());
    annotations.hasNoWarning('/Stack/Mesh/Router/Default', Match.anyValue());
  });

  test('route values are checked where they are written', () => {
    // GIVEN
    const { mesh, v1 } = routedMesh();
    // THEN
    expect(() => weft.RouteSpec.http({ weightedTargets: [{ virtualNode: v1, weight: 101 }] })).toThrow(/Weighted target weight must be an integer between 0 and 100, got: 101/);
    expect(() => weft.RouteSpec.tcp({ weightedTargets: [] })).toThrow(/weightedTargets must have between 1 and 10 entries, got: 0/);
    expect(() => weft.RouteSpec.http({ priority: 1001, weightedTargets: [{ virtualNode: v1 }] })).toThrow(/Priority must be an integer between 0 and 1000, got: 1001/);
    expect(() => weft.RouteSpec.http({ weightedTargets: [{ virtualNode: v1 }], retryPolicy: { retryAttempts: 2, retryTimeout: cdk.Duration.seconds(1) } })).toThrow(
      /a retry policy needs at least one of httpRetryEvents, tcpRetryEvents, grpcRetryEvents or retriableStatusCodes, got: none/,
    );
    expect(() => weft.RouteSpec.grpc({ weightedTargets: [{ virtualNode: v1 }], match: { methodName: 'Get' } })).toThrow(/must also match a service name, got: methodName 'Get' alone/);
    expect(() => weft.RouteSpec.http({ weightedTargets: [{ virtualNode: v1 }], redirect: { path: '/x' } })).toThrow(/redirects or forwards to weighted targets, not both/);
    expect(() => weft.HttpRoutePathMatch.startsWith('api')).toThrow(/Prefix path must start with '\/', got: api/);
    expect(() => weft.HeaderMatch.valuesIsInRange('x-n', 5, 5)).toThrow(/start < end, got: \[5, 5\)/);
    expect(() => weft.RouteSpec.http({ weightedTargets: [{ virtualNode: v1 }], fault: { abort: { percentage: 150, httpStatus: 503 } } })).toThrow(/fault\.abort\.percentage must be between 0 and 100, got: 150/);
    expect(mesh.meshName).toBe('shop');
  });

  test('gRPC and TCP routes', () => {
    // GIVEN
    const stack = newStack();
    const mesh = new weft.Mesh(stack, 'Mesh', { meshName: 'shop' });
    const grpcNode = mesh.addVirtualNode('G', { virtualNodeName: 'g', listeners: [weft.VirtualNodeListener.grpc({ port: 50051 })] });
    const tcpNode = mesh.addVirtualNode('T', { virtualNodeName: 't', listeners: [weft.VirtualNodeListener.tcp({ port: 5432 })] });
    const router = mesh.addVirtualRouter('R', { virtualRouterName: 'r', listeners: [weft.VirtualRouterListener.grpc(50051), weft.VirtualRouterListener.tcp(5432)] });
    // WHEN
    router.addRoute('Grpc', {
      routeName: 'grpc',
      routeSpec: weft.RouteSpec.grpc({
        match: { serviceName: 'shop.Orders', methodName: 'Get', metadata: [weft.HeaderMatch.valueMatchesRegex('x-tenant', '^a.*')], port: 50051 },
        weightedTargets: [{ virtualNode: grpcNode }],
        retryPolicy: { retryAttempts: 1, retryTimeout: cdk.Duration.millis(500), grpcRetryEvents: [weft.GrpcRetryEvent.UNAVAILABLE] },
      }),
    });
    router.addRoute('Tcp', { routeName: 'tcp', routeSpec: weft.RouteSpec.tcp({ match: { port: 5432 }, weightedTargets: [{ virtualNode: tcpNode }], timeout: { idle: cdk.Duration.minutes(1) } }) });
    const vs = new weft.VirtualService(stack, 'Vs', { virtualServiceName: 'r.shop.local', virtualServiceProvider: weft.VirtualServiceProvider.virtualRouter(router) });
    mesh.addVirtualNode('Client', { virtualNodeName: 'client', backends: [weft.Backend.virtualService(vs)] });
    // THEN
    const client = publishedConfigs(Template.fromStack(stack)).find((c) => c.node.name === 'client')!;
    const [grpcListener, tcpListener] = client.outbound.services[0].listeners;
    expect(grpcListener.routes[0]).toMatchObject({
      protocol: 'grpc',
      match: { serviceName: 'shop.Orders', methodName: 'Get', metadata: [{ name: 'x-tenant', match: { regex: '^a.*' } }] },
      retryPolicy: { maxRetries: 1, perTryTimeoutMs: 500, grpcRetryEvents: ['unavailable'] },
    });
    expect(tcpListener.routes[0]).toMatchObject({ protocol: 'tcp', action: { weightedTargets: [{ cluster: 't:5432', weight: 1 }] }, timeout: { idleMs: 60000 } });
  });

  test('imports by ARN and attributes', () => {
    // GIVEN
    const stack = newStack();
    // WHEN
    const route = weft.Route.fromRouteArn(stack, 'R', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualRouter/orders/route/canary');
    // THEN
    expect([route.routeName, route.virtualRouter.virtualRouterName, route.virtualRouter.mesh.meshName]).toEqual(['canary', 'orders', 'shop']);
    expect(() => weft.Route.fromRouteArn(stack, 'X', 'arn:aws:appmesh:eu-west-1:111111111111:mesh/shop/virtualRouter/orders')).toThrow(/not a route ARN/);
  });
});
