import { generateKeyPairSync } from 'node:crypto';
import { formatModelError, formatModelWarning } from '../../../lib/model/errors';
import { loadMeshSources } from '../../../lib/model/load';
import { type MeshModel } from '../../../lib/model/schema';
import { meshWarnings, validateMesh } from '../../../lib/model/validate';

// A small valid mesh every case adds to: two order versions behind a router, a node with an HTTP and
// a gRPC listener, a client-only node, a two-listener router, a TCP router and an edge gateway.
const BASE = `
apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: { name: order-mesh }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: order-v1 }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
  serviceDiscovery: { dns: { hostname: order-v1.orders.local } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: order-v2 }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
  serviceDiscovery: { dns: { hostname: order-v2.orders.local } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: multi }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }, { portMapping: { port: 9090, protocol: grpc } }]
  serviceDiscovery: { dns: { hostname: multi.orders.local } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualNode
metadata: { name: client }
spec:
  backends: [{ virtualService: { virtualServiceName: order.orders.local } }]
---
apiVersion: weft.dev/v1alpha1
kind: VirtualRouter
metadata: { name: order-router }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }]
---
apiVersion: weft.dev/v1alpha1
kind: VirtualRouter
metadata: { name: multi-router }
spec:
  listeners: [{ portMapping: { port: 8080, protocol: http } }, { portMapping: { port: 9090, protocol: grpc } }]
---
apiVersion: weft.dev/v1alpha1
kind: VirtualRouter
metadata: { name: tcp-router }
spec:
  listeners: [{ portMapping: { port: 5432, protocol: tcp } }]
---
apiVersion: weft.dev/v1alpha1
kind: VirtualService
metadata: { name: order.orders.local }
spec:
  provider: { virtualRouter: { virtualRouterName: order-router } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualService
metadata: { name: multi.orders.local }
spec:
  provider: { virtualNode: { virtualNodeName: multi } }
---
apiVersion: weft.dev/v1alpha1
kind: VirtualGateway
metadata: { name: edge }
spec:
  listeners: [{ portMapping: { port: 8443, protocol: http } }]
`;

/** Strips the indentation of a template literal, so cases read like the files they stand for. */
function yaml(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** Loads the base mesh plus a case file made of `docs` (each dedented on its own). */
function loadWith(...docs: string[]): MeshModel {
  const { meshes, errors } = loadMeshSources([
    { file: 'base.yaml', text: BASE },
    { file: 'case.yaml', text: docs.map(yaml).join('\n---\n') },
  ]);
  expect(errors.map(formatModelError)).toEqual([]);
  expect(meshes).toHaveLength(1);
  return meshes[0];
}

/** Validation errors of the base mesh plus a case file, as the CLI prints them. */
function check(...docs: string[]): string[] {
  return validateMesh(loadWith(...docs)).map(formatModelError);
}

const route = (spec: string, name = 'r', router = 'order-router') => `
  apiVersion: weft.dev/v1alpha1
  kind: Route
  metadata: { name: ${name}, virtualRouter: ${router} }
  spec:
${spec.replace(/^\n/, '')}`;

const gatewayRoute = (spec: string, name = 'g', gateway = 'edge') => `
  apiVersion: weft.dev/v1alpha1
  kind: GatewayRoute
  metadata: { name: ${name}, virtualGateway: ${gateway} }
  spec:
${spec.replace(/^\n/, '')}`;

const node = (spec: string, name = 'n') => `
  apiVersion: weft.dev/v1alpha1
  kind: VirtualNode
  metadata: { name: ${name} }
  spec:
${spec.replace(/^\n/, '')}`;

const target = (node = 'order-v1') => `action: { weightedTargets: [{ virtualNode: ${node}, weight: 1 }] }`;

test('the base mesh is valid', () => {
  expect(check('')).toEqual([]);
});

describe('mesh tracing', () => {
  const mesh = (tracing: string) => [{ file: 'mesh.yaml', text: `apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  tracing: ${tracing}\n` }];

  test('a percentage outside 0-100 fails at load with its field path', () => {
    const { errors } = loadMeshSources(mesh('{ samplingPercentage: 150 }'));
    expect(errors.map(formatModelError)).toEqual(["mesh.yaml:5: Mesh/m: spec.tracing.samplingPercentage: must be at most 100, got: 150"]);
  });

  test.each(['localhost:4318/v1/traces', 'ftp://collector/v1/traces', 'http://', 'not a url'])('endpoint %p is refused with its field path', (endpoint) => {
    const { meshes, errors } = loadMeshSources(mesh(`{ endpoint: '${endpoint}' }`));
    expect(errors).toEqual([]);
    expect(validateMesh(meshes[0]).map(formatModelError)).toEqual([expect.stringMatching(/spec\.tracing\.endpoint: must be the collector's OTLP\/HTTP traces URL .*got: /)]);
  });

  test('defaults and a well-formed endpoint are valid', () => {
    for (const t of ['{}', '{ enabled: false }', "{ samplingPercentage: 0, endpoint: 'https://otel.example.com:4318/v1/traces' }"]) {
      const { meshes, errors } = loadMeshSources(mesh(t));
      expect(errors).toEqual([]);
      expect(validateMesh(meshes[0])).toEqual([]);
    }
  });
});

test('errors carry file, line, document, resource and path', () => {
  const model = loadWith(
    node(`    backends: []`, 'idle'),
    route(`
    httpRoute:
      match: { prefix: / }
      action:
        weightedTargets:
          - { virtualNode: order-v3, weight: 1 }`),
  );
  // Document 1 starts on line 7, after the five lines of document 0 and the separator.
  expect(validateMesh(model)).toEqual([
    {
      file: 'case.yaml',
      line: 15,
      document: 1,
      resource: 'Route/r',
      path: 'spec.httpRoute.action.weightedTargets[0].virtualNode',
      message: 'must name a virtual node of mesh order-mesh, got: order-v3',
    },
  ]);
});

describe('references', () => {
  test('virtual service provider node and router must exist', () => {
    expect(
      check(
        `
        apiVersion: weft.dev/v1alpha1
        kind: VirtualService
        metadata: { name: a.orders.local }
        spec:
          provider: { virtualNode: { virtualNodeName: ghost } }`,
        `
        apiVersion: weft.dev/v1alpha1
        kind: VirtualService
        metadata: { name: b.orders.local }
        spec:
          provider:
            virtualRouter:
              virtualRouterName: ghost-router`,
      ),
    ).toEqual([
      'case.yaml:5: VirtualService/a.orders.local: spec.provider.virtualNode.virtualNodeName: the provider must name a virtual node of mesh order-mesh, got: ghost',
      'case.yaml:13: VirtualService/b.orders.local: spec.provider.virtualRouter.virtualRouterName: the provider must name a virtual router of mesh order-mesh, got: ghost-router',
    ]);
  });

  test('a provider node needs a listener (a client-only node cannot provide a service)', () => {
    expect(
      check(`
        apiVersion: weft.dev/v1alpha1
        kind: VirtualService
        metadata: { name: c.orders.local }
        spec:
          provider:
            virtualNode:
              virtualNodeName: client`),
    ).toEqual(['case.yaml:7: VirtualService/c.orders.local: spec.provider.virtualNode.virtualNodeName: the provider virtual node needs a listener to receive traffic, got: client']);
  });

  test('a route must belong to a known router', () => {
    expect(check(route(`    tcpRoute: { ${target()} }`, 'r', 'ghost-router'))).toEqual([
      'case.yaml:3: Route/r: metadata.virtualRouter: a route must name a virtual router of mesh order-mesh, got: ghost-router',
    ]);
  });

  test('weighted targets and mirrors must name known nodes', () => {
    expect(
      check(
        route(`
    httpRoute:
      match: { prefix: / }
      action:
        weightedTargets:
          - virtualNode: order-v1
            weight: 1
          - virtualNode: ghost
            weight: 1
      mirror:
        virtualNode: shadow`),
      ),
    ).toEqual([
      'case.yaml:11: Route/r: spec.httpRoute.action.weightedTargets[1].virtualNode: must name a virtual node of mesh order-mesh, got: ghost',
      'case.yaml:14: Route/r: spec.httpRoute.mirror.virtualNode: must name a virtual node of mesh order-mesh, got: shadow',
    ]);
  });

  test('a route target needs a node with listeners', () => {
    expect(check(route(`    tcpRoute: { ${target('client')} }`, 'r', 'tcp-router'))).toEqual([
      'case.yaml:5: Route/r: spec.tcpRoute.action.weightedTargets[0].virtualNode: a route target needs a virtual node with listeners, got: client',
    ]);
  });

  test('backends must name known virtual services, once, and not one the node provides itself', () => {
    expect(
      check(
        node(
          `
    backends:
      - virtualService: { virtualServiceName: ghost.orders.local }
      - virtualService: { virtualServiceName: order.orders.local }
      - virtualService: { virtualServiceName: order.orders.local }`,
          'caller',
        ),
        node(
          `
    listeners: [{ portMapping: { port: 8080, protocol: http } }]
    serviceDiscovery: { dns: { hostname: self.orders.local } }
    backends:
      - virtualService: { virtualServiceName: self.orders.local }`,
          'self',
        ),
        `
        apiVersion: weft.dev/v1alpha1
        kind: VirtualService
        metadata: { name: self.orders.local }
        spec:
          provider: { virtualNode: { virtualNodeName: self } }`,
      ),
    ).toEqual([
      'case.yaml:6: VirtualNode/caller: spec.backends[0].virtualService.virtualServiceName: a backend must name a virtual service of mesh order-mesh, got: ghost.orders.local',
      'case.yaml:8: VirtualNode/caller: spec.backends[2].virtualService.virtualServiceName: backends must not repeat a virtual service, got: order.orders.local',
      'case.yaml:17: VirtualNode/self: spec.backends[0].virtualService.virtualServiceName: a virtual node must not list a virtual service it provides itself as a backend, got: self.orders.local',
    ]);
  });

  test('gateway routes need a known gateway and a known target service', () => {
    expect(
      check(
        gatewayRoute(
          `
    httpRoute:
      match: { prefix: / }
      action:
        target:
          virtualService: { virtualServiceName: ghost.orders.local }`,
          'g',
          'ghost-gateway',
        ),
      ),
    ).toEqual([
      'case.yaml:3: GatewayRoute/g: metadata.virtualGateway: a gateway route must name a virtual gateway of mesh order-mesh, got: ghost-gateway',
      'case.yaml:9: GatewayRoute/g: spec.httpRoute.action.target.virtualService.virtualServiceName: the target must name a virtual service of mesh order-mesh, got: ghost.orders.local',
    ]);
  });
});

describe('weighted targets', () => {
  test('all weights 0 is an error; weights are kept as written', () => {
    const model = loadWith(
      route(`
    httpRoute:
      match: { prefix: / }
      action:
        weightedTargets:
          - { virtualNode: order-v1, weight: 0 }
          - { virtualNode: order-v2, weight: 0 }`),
    );
    expect(validateMesh(model).map(formatModelError)).toEqual([
      'case.yaml:8: Route/r: spec.httpRoute.action.weightedTargets: at least one weighted target needs a weight above 0, got: 0, 0',
    ]);
    expect(model.routes[0].spec.httpRoute!.action).toEqual({ weightedTargets: [{ virtualNode: 'order-v1', weight: 0 }, { virtualNode: 'order-v2', weight: 0 }] });
  });

  test('weights that do not sum to 100 are accepted as written', () => {
    const model = loadWith(route(`    tcpRoute: { action: { weightedTargets: [{ virtualNode: order-v1, weight: 3 }, { virtualNode: order-v2, weight: 1 }] } }`, 'r', 'tcp-router'));
    expect(validateMesh(model)).toEqual([]);
    expect(model.routes[0].spec.tcpRoute!.action.weightedTargets.map((t) => t.weight)).toEqual([3, 1]);
  });

  test('port must be a listener port of the node, and is required when the node has several', () => {
    expect(
      check(
        route(`
    httpRoute:
      match: { prefix: / }
      action:
        weightedTargets:
          - virtualNode: order-v1
            weight: 1
            port: 9000
          - virtualNode: multi
            weight: 1
          - virtualNode: multi
            weight: 1
            port: 9090`),
      ),
    ).toEqual([
      'case.yaml:11: Route/r: spec.httpRoute.action.weightedTargets[0].port: port must be a listener port of virtual node order-v1 (8080/http), got: 9000',
      'case.yaml:12: Route/r: spec.httpRoute.action.weightedTargets[1].port: port is required when virtual node multi has several listeners, got: 8080/http, 9090/grpc',
    ]);
  });

  test('a target may not repeat a node and port', () => {
    expect(check(route(`    tcpRoute: { action: { weightedTargets: [{ virtualNode: order-v1, weight: 1 }, { virtualNode: order-v1, weight: 2 }] } }`, 'r', 'tcp-router'))).toEqual([
      'case.yaml:5: Route/r: spec.tcpRoute.action.weightedTargets[1]: weighted targets must not repeat a virtual node and port, got: order-v1',
    ]);
  });
});

describe('route types, protocols and ports', () => {
  test('a route sets exactly one route type', () => {
    expect(
      check(
        route(`    priority: 1`, 'none'),
        route(`    httpRoute: { match: { prefix: / }, ${target()} }\n    tcpRoute: { ${target()} }`, 'two'),
      ),
    ).toEqual([
      'case.yaml:4: Route/none: spec: a route must set exactly one of httpRoute, http2Route, grpcRoute, tcpRoute, got: none',
      'case.yaml:10: Route/two: spec: a route must set exactly one of httpRoute, http2Route, grpcRoute, tcpRoute, got: httpRoute, tcpRoute',
    ]);
  });

  test("the route's protocol needs a listener of that protocol on its router", () => {
    expect(check(route(`    grpcRoute:\n      match: { serviceName: orders.Orders }\n      action: { weightedTargets: [{ virtualNode: multi, weight: 1, port: 9090 }] }`))).toEqual([
      'case.yaml:5: Route/r: spec.grpcRoute: a grpcRoute needs a grpc listener on virtual router order-router, got: 8080/http',
    ]);
  });

  test('match.port must be a router listener port of the right protocol, and is required when the router has several', () => {
    expect(
      check(
        route(`    httpRoute: { match: { prefix: / }, ${target()} }`, 'no-port', 'multi-router'),
        route(`    httpRoute: { match: { prefix: /, port: 7000 }, ${target()} }`, 'bad-port', 'multi-router'),
        route(`    httpRoute: { match: { prefix: /, port: 9090 }, ${target()} }`, 'grpc-port', 'multi-router'),
        route(`    httpRoute: { match: { prefix: /, port: 8080 }, ${target()} }`, 'good', 'multi-router'),
      ),
    ).toEqual([
      'case.yaml:5: Route/no-port: spec.httpRoute.match.port: match.port is required when virtual router multi-router has several listeners, got: 8080/http, 9090/grpc',
      'case.yaml:11: Route/bad-port: spec.httpRoute.match.port: match.port must be a listener port of virtual router multi-router (8080/http, 9090/grpc), got: 7000',
      'case.yaml:17: Route/grpc-port: spec.httpRoute.match.port: match.port must be a http listener of virtual router multi-router, got: 9090/grpc',
    ]);
  });

  test('a redirect action exists only in HTTP routes (the schema refuses it in a grpcRoute)', () => {
    const { errors } = loadMeshSources([
      { file: 'base.yaml', text: BASE },
      { file: 'case.yaml', text: yaml(route(`    grpcRoute:\n      match: { serviceName: orders.Orders }\n      action:\n        redirect: { hostname: elsewhere }`)) },
    ]);
    expect(errors.map(formatModelError)).toEqual([
      'case.yaml:7: Route/r: spec.grpcRoute.action.weightedTargets: is required',
      "case.yaml:8: Route/r: spec.grpcRoute.action.redirect: unknown field 'redirect'",
    ]);
  });
});

describe('route matches', () => {
  test('an HTTP route match needs exactly one of prefix and path', () => {
    expect(
      check(
        route(`    httpRoute:\n      match: { method: GET }\n      ${target()}`, 'neither'),
        route(`    httpRoute:\n      match: { prefix: /, path: { exact: /orders } }\n      ${target()}`, 'both'),
      ),
    ).toEqual([
      'case.yaml:6: Route/neither: spec.httpRoute.match: an HTTP route match needs prefix or path (App Mesh requires one), got: none',
      'case.yaml:14: Route/both: spec.httpRoute.match: a match takes prefix or path, not both, got: prefix /',
    ]);
  });

  test('path and header regexes must compile; header ranges need start < end', () => {
    expect(
      check(
        route(`
    httpRoute:
      match:
        path: { regex: "/orders/(\\\\d+" }
        headers:
          - name: x-tenant
            match: { regex: "[a-z" }
          - name: x-version
            match:
              range: { start: 10, end: 5 }
      ${target()}`),
      ),
    ).toEqual([
      'case.yaml:7: Route/r: spec.httpRoute.match.path.regex: must be a valid regular expression (//orders/(\\d+/: Unterminated group), got: /orders/(\\d+',
      'case.yaml:10: Route/r: spec.httpRoute.match.headers[0].match.regex: must be a valid regular expression (/[a-z/: Unterminated character class), got: [a-z',
      'case.yaml:13: Route/r: spec.httpRoute.match.headers[1].match.range: a header range needs start less than end, got: 10..5',
    ]);
  });

  test('route regexes are RE2\'s language and run in linear time: no backreferences, no lookaround, no group unrolled past 16 copies', () => {
    const why = "route regexes are RE2's language and must run in linear time, as in Envoy (no backreferences, no lookaround, no count above 1000, no repeated group that unrolls to more than 16 copies)";
    expect(
      check(
        route(`
    httpRoute:
      match:
        path: { regex: "/orders/(?!internal).*" }
        headers:
          - name: x-pair
            match: { regex: "([a-z])\\\\1" }
          - name: x-words
            match: { regex: "(?:[a-z]+,){20}" }
          - name: x-huge
            match: { regex: "[0-9]{1,5000}" }
          - name: x-hash
            match: { regex: "(?:sha256:)?[a-f0-9]{64}" }
      ${target()}`),
      ),
    ).toEqual([
      `case.yaml:7: Route/r: spec.httpRoute.match.path.regex: must not use a lookahead ((?!): ${why}, got: /orders/(?!internal).*`,
      `case.yaml:10: Route/r: spec.httpRoute.match.headers[0].match.regex: must not use a backreference (\\1): ${why}, got: ([a-z])\\1`,
      `case.yaml:12: Route/r: spec.httpRoute.match.headers[1].match.regex: must not use a repeated group that unrolls to more than 16 copies ({20} on (?:[a-z]+,)): ${why}, got: (?:[a-z]+,){20}`,
      `case.yaml:14: Route/r: spec.httpRoute.match.headers[2].match.regex: must not use a repetition count above 1000 ({1,5000}): ${why}, got: [0-9]{1,5000}`,
    ]);
  });

  test('ignoreCase applies to prefix and exact path matches, not a regex', () => {
    expect(check(route(`    httpRoute:\n      match: { path: { regex: "^/orders/[0-9]+$" }, ignoreCase: true }\n      ${target()}`))).toEqual([
      'case.yaml:6: Route/r: spec.httpRoute.match.ignoreCase: ignoreCase applies to prefix and exact path matches, not to a regex, got: ^/orders/[0-9]+$',
    ]);
  });

  test('a gRPC methodName match needs serviceName; metadata regexes must compile', () => {
    expect(
      check(
        route(
          `
    grpcRoute:
      match:
        methodName: Get
        port: 9090
        metadata: [{ name: x-tenant, match: { regex: "(" } }]
      action: { weightedTargets: [{ virtualNode: multi, weight: 1, port: 9090 }] }`,
          'r',
          'multi-router',
        ),
      ),
    ).toEqual([
      'case.yaml:7: Route/r: spec.grpcRoute.match.methodName: a methodName match needs serviceName, got: Get',
      'case.yaml:9: Route/r: spec.grpcRoute.match.metadata[0].match.regex: must be a valid regular expression (/(/: Unterminated group), got: (',
    ]);
  });

  test('two routes of a router with the same priority and match conflict; an absent port means the only listener', () => {
    expect(
      check(
        route(`    priority: 5\n    httpRoute: { match: { prefix: /orders }, ${target()} }`, 'first'),
        route(`    priority: 5\n    httpRoute: { match: { port: 8080, prefix: /orders }, ${target('order-v2')} }`, 'second'),
        route(`    priority: 6\n    httpRoute: { match: { prefix: /orders }, ${target()} }`, 'other-priority'),
        route(`    priority: 5\n    httpRoute: { match: { prefix: /orders/ }, ${target()} }`, 'other-match'),
      ),
    ).toEqual(['case.yaml:13: Route/second: spec.httpRoute.match: Route first of virtual router order-router has the same priority and match, so this one can never be chosen, got: priority 5']);
  });
});

describe('retries, faults, redirects and rewrites', () => {
  test('a retry policy needs an event and a positive perRetryTimeout', () => {
    expect(
      check(
        route(`
    httpRoute:
      match: { prefix: / }
      ${target()}
      retryPolicy:
        maxRetries: 2
        perRetryTimeout: 0ms`),
      ),
    ).toEqual([
      'case.yaml:8: Route/r: spec.httpRoute.retryPolicy: a retry policy needs at least one retry event (httpRetryEvents, tcpRetryEvents, retriableStatusCodes), got: none',
      'case.yaml:10: Route/r: spec.httpRoute.retryPolicy.perRetryTimeout: perRetryTimeout must be greater than 0, got: 0ms',
    ]);
  });

  test('a gRPC retry policy may use grpcRetryEvents alone', () => {
    expect(
      check(
        route(
          `    grpcRoute:\n      match: { serviceName: orders.Orders, port: 9090 }\n      action: { weightedTargets: [{ virtualNode: multi, weight: 1, port: 9090 }] }\n      retryPolicy: { maxRetries: 1, perRetryTimeout: { unit: s, value: 1 }, grpcRetryEvents: [unavailable] }`,
          'r',
          'multi-router',
        ),
      ),
    ).toEqual([]);
  });

  test('a fault needs delay or abort, and the abort status of its protocol', () => {
    expect(
      check(
        route(`    httpRoute:\n      match: { prefix: /a }\n      ${target()}\n      fault: {}`, 'empty'),
        route(`    httpRoute:\n      match: { prefix: /b }\n      ${target()}\n      fault:\n        abort: { percentage: 10, grpcStatus: 14 }`, 'http-abort'),
        route(`    httpRoute:\n      match: { prefix: /c }\n      ${target()}\n      fault:\n        delay: { percentage: 10, fixedDelay: 0s }`, 'zero-delay'),
        route(
          `    grpcRoute:\n      match: { serviceName: orders.Orders, port: 9090 }\n      action: { weightedTargets: [{ virtualNode: multi, weight: 1, port: 9090 }] }\n      fault:\n        abort: { percentage: 10, httpStatus: 503 }`,
          'grpc-abort',
          'multi-router',
        ),
      ),
    ).toEqual([
      'case.yaml:8: Route/empty: spec.httpRoute.fault: a fault needs delay or abort, got: none',
      'case.yaml:18: Route/http-abort: spec.httpRoute.fault.abort: an abort fault in a httpRoute needs httpStatus',
      'case.yaml:18: Route/http-abort: spec.httpRoute.fault.abort.grpcStatus: an abort fault in a httpRoute answers with httpStatus, not grpcStatus, got: 14',
      "case.yaml:28: Route/zero-delay: spec.httpRoute.fault.delay.fixedDelay: a delay fault's fixedDelay must be greater than 0, got: 0s",
      'case.yaml:38: Route/grpc-abort: spec.grpcRoute.fault.abort: an abort fault in a grpcRoute needs grpcStatus',
      'case.yaml:38: Route/grpc-abort: spec.grpcRoute.fault.abort.httpStatus: an abort fault in a grpcRoute answers with grpcStatus, not httpStatus, got: 503',
    ]);
  });

  test('a redirect takes path or prefix, and does not combine with a rewrite', () => {
    expect(
      check(
        route(`
    httpRoute:
      match: { prefix: /old }
      action:
        redirect: { path: /new, prefix: /new/ }
      rewrite: { hostname: internal }`),
      ),
    ).toEqual([
      'case.yaml:8: Route/r: spec.httpRoute.action.redirect: a redirect takes path or prefix, not both, got: path /new',
      'case.yaml:9: Route/r: spec.httpRoute.rewrite: a redirect does not forward the request, so rewrite cannot apply; remove one of them',
    ]);
  });

  test('a prefix rewrite needs a prefix match; prefix and path rewrites exclude each other', () => {
    expect(
      check(
        route(`    httpRoute:\n      match: { path: { exact: /orders } }\n      ${target()}\n      rewrite: { prefix: /v2/ }`, 'a'),
        route(`    httpRoute:\n      match: { prefix: /orders }\n      ${target()}\n      rewrite: { prefix: /v2/, path: /v2 }`, 'b'),
      ),
    ).toEqual([
      'case.yaml:8: Route/a: spec.httpRoute.rewrite.prefix: a prefix rewrite replaces the matched prefix, so it needs match.prefix, got: /v2/',
      'case.yaml:17: Route/b: spec.httpRoute.rewrite: a rewrite takes prefix or path, not both, got: prefix /v2/',
    ]);
  });
});

describe('virtual nodes and gateways', () => {
  const discovery = '    serviceDiscovery: { dns: { hostname: n.orders.local } }';

  test('listener ports are unique in a node, a router and a gateway', () => {
    expect(
      check(
        node(`    listeners:\n      - portMapping: { port: 8080, protocol: http }\n      - portMapping: { port: 8080, protocol: grpc }\n${discovery}`),
        `
        apiVersion: weft.dev/v1alpha1
        kind: VirtualRouter
        metadata: { name: dup-router }
        spec:
          listeners:
            - portMapping: { port: 80, protocol: http }
            - portMapping: { port: 80, protocol: http2 }`,
        `
        apiVersion: weft.dev/v1alpha1
        kind: VirtualGateway
        metadata: { name: dup-gateway }
        spec:
          listeners:
            - portMapping: { port: 443, protocol: http }
            - portMapping: { port: 443, protocol: grpc }`,
      ),
    ).toEqual([
      'case.yaml:7: VirtualNode/n: spec.listeners[1].portMapping.port: listener ports must be unique in a virtual node, got: 8080',
      'case.yaml:16: VirtualRouter/dup-router: spec.listeners[1].portMapping.port: listener ports must be unique in a virtual router, got: 80',
      'case.yaml:24: VirtualGateway/dup-gateway: spec.listeners[1].portMapping.port: listener ports must be unique in a virtual gateway, got: 443',
    ]);
  });

  test('a node with listeners needs service discovery; a node without listeners is a client and needs none', () => {
    expect(
      check(node(`    listeners:\n      - portMapping: { port: 8080, protocol: http }`), node(`    backends: [{ virtualService: { virtualServiceName: order.orders.local } }]`, 'client-2')),
    ).toEqual([
      'case.yaml:4: VirtualNode/n: spec.serviceDiscovery: a virtual node with listeners needs serviceDiscovery (dns, awsCloudMap or static) so callers can find it, got: 1 listener(s)',
    ]);
  });

  test('at most 30 Cloud Map attributes', () => {
    const attributes = Array.from({ length: 31 }, (_, i) => `{ key: k${i}, value: v }`).join(', ');
    expect(
      check(
        node(`    listeners: [{ portMapping: { port: 8080, protocol: http } }]\n    serviceDiscovery:\n      awsCloudMap:\n        namespaceName: orders.local\n        serviceName: n\n        attributes: [${attributes}]`),
      ),
    ).toEqual(['case.yaml:10: VirtualNode/n: spec.serviceDiscovery.awsCloudMap.attributes: at most 30 Cloud Map attributes can filter instances, got: 31']);
  });

  test('health check timeout must be less than its interval', () => {
    expect(
      check(
        node(`    listeners:
      - portMapping: { port: 8080, protocol: http }
        healthCheck:
          protocol: http
          healthyThreshold: 2
          unhealthyThreshold: 2
          intervalMillis: 5000
          timeoutMillis: 5000
${discovery}`),
      ),
    ).toEqual(['case.yaml:12: VirtualNode/n: spec.listeners[0].healthCheck.timeoutMillis: health check timeoutMillis must be less than intervalMillis (5000), got: 5000']);
  });

  test("a health check's port, when given, is its listener's port", () => {
    expect(
      check(
        node(`    listeners:
      - portMapping: { port: 8080, protocol: http }
        healthCheck: { protocol: http, port: 8081, healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000 }
${discovery}`),
      ),
    ).toEqual(["case.yaml:7: VirtualNode/n: spec.listeners[0].healthCheck.port: a health check port must be its listener's port 8080, got: 8081"]);
  });

  test('outlier detection durations must be above 0', () => {
    expect(
      check(
        node(`    listeners:
      - portMapping: { port: 8080, protocol: http }
        outlierDetection:
          maxServerErrors: 5
          interval: { unit: s, value: 0 }
          baseEjectionDuration: 0ms
          maxEjectionPercent: 10
${discovery}`),
      ),
    ).toEqual([
      'case.yaml:9: VirtualNode/n: spec.listeners[0].outlierDetection.interval: outlier detection interval must be greater than 0, got: 0s',
      'case.yaml:10: VirtualNode/n: spec.listeners[0].outlierDetection.baseEjectionDuration: outlier detection baseEjectionDuration must be greater than 0, got: 0ms',
    ]);
  });

  test("a listener's timeout and connection pool are for its own protocol", () => {
    expect(
      check(
        node(`    listeners:
      - portMapping: { port: 8080, protocol: http }
        timeout:
          grpc: { perRequest: 5s }
        connectionPool:
          tcp: { maxConnections: 10 }
${discovery}`),
      ),
    ).toEqual([
      "case.yaml:8: VirtualNode/n: spec.listeners[0].timeout.grpc: a listener's timeout must be given for its protocol http, got: grpc",
      "case.yaml:10: VirtualNode/n: spec.listeners[0].connectionPool.tcp: a listener's connectionPool must be given for its protocol http, got: tcp",
    ]);
  });

  test('listener TLS: ACM certificates are not supported yet, SDS is', () => {
    expect(
      check(
        node(`    listeners:
      - portMapping: { port: 8080, protocol: http }
        tls:
          mode: STRICT
          certificate:
            acm: { certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/abc" }
      - portMapping: { port: 8443, protocol: http }
        tls:
          mode: STRICT
          certificate:
            sds: { secretName: mesh-identity }
${discovery}`),
      ),
    ).toEqual([
      'case.yaml:10: VirtualNode/n: spec.listeners[0].tls.certificate.acm: ACM certificates are not supported by Weft yet; use sds (the mesh identity) or file, got: arn:aws:acm:eu-west-1:111122223333:certificate/abc',
    ]);
  });

  test('CONSISTENT_HASH and consistentHash go together', () => {
    expect(
      check(node(`    loadBalancer:\n      policy: CONSISTENT_HASH`, 'a'), node(`    loadBalancer:\n      policy: LEAST_REQUEST\n      consistentHash: { header: x-user }`, 'b')),
    ).toEqual([
      'case.yaml:5: VirtualNode/a: spec.loadBalancer.consistentHash: policy CONSISTENT_HASH needs consistentHash (header, cookie or sourceIp) to say what to hash',
      'case.yaml:13: VirtualNode/b: spec.loadBalancer.policy: consistentHash is only used with policy CONSISTENT_HASH, got: LEAST_REQUEST',
    ]);
  });

  test('a JWT rule needs exactly one of jwksUri and jwks', () => {
    expect(
      check(`
        apiVersion: weft.dev/v1alpha1
        kind: VirtualGateway
        metadata: { name: api }
        spec:
          listeners: [{ portMapping: { port: 443, protocol: http } }]
          jwt:
            - issuer: https://issuer.example
            - issuer: https://other.example
              jwksUri: https://other.example/jwks.json
              jwks: '{"keys":[]}'`),
    ).toEqual([
      'case.yaml:7: VirtualGateway/api: spec.jwt[0]: a JWT rule needs jwksUri or jwks to verify tokens of issuer https://issuer.example',
      'case.yaml:10: VirtualGateway/api: spec.jwt[1].jwks: a JWT rule takes jwksUri or jwks, not both, got: jwksUri https://other.example/jwks.json',
      'case.yaml:10: VirtualGateway/api: spec.jwt[1].jwks: has no keys: no token could ever be verified',
    ]);
  });
});

describe('gateway routes', () => {
  const service = (name = 'order.orders.local') => `{ virtualService: { virtualServiceName: ${name} } }`;

  test('a gateway route sets exactly one route type, of a protocol the gateway listens on', () => {
    expect(
      check(gatewayRoute(`    priority: 1`, 'none'), gatewayRoute(`    grpcRoute: { match: { serviceName: orders.Orders }, action: { target: ${service()} } }`, 'grpc')),
    ).toEqual([
      'case.yaml:4: GatewayRoute/none: spec: a gateway route must set exactly one of httpRoute, http2Route, grpcRoute, got: none',
      'case.yaml:11: GatewayRoute/grpc: spec.grpcRoute: a grpcRoute needs a grpc listener on virtual gateway edge, got: 8443/http',
    ]);
  });

  test('target port must be a listener port of the provider and is required when it has several', () => {
    expect(
      check(
        gatewayRoute(`    httpRoute: { match: { prefix: /multi }, action: { target: ${service('multi.orders.local')} } }`, 'a'),
        gatewayRoute(`    httpRoute: { match: { prefix: /order }, action: { target: { virtualService: { virtualServiceName: order.orders.local }, port: 9000 } } }`, 'b'),
      ),
    ).toEqual([
      'case.yaml:5: GatewayRoute/a: spec.httpRoute.action.target.port: port is required when the provider of virtual service multi.orders.local has several listeners, got: 8080/http, 9090/grpc',
      'case.yaml:11: GatewayRoute/b: spec.httpRoute.action.target.port: port must be a listener port of the provider of virtual service order.orders.local (8080/http), got: 9000',
    ]);
  });

  test('an HTTP gateway route match needs prefix, path or hostname, not prefix and path', () => {
    expect(
      check(
        gatewayRoute(`    httpRoute:\n      match: { method: GET }\n      action: { target: ${service()} }`, 'a'),
        gatewayRoute(`    httpRoute:\n      match: { hostname: { exact: api.example.com } }\n      action: { target: ${service()} }`, 'b'),
        gatewayRoute(`    httpRoute:\n      match: { prefix: /, path: { regex: "^/v[0-9]+$" } }\n      action: { target: ${service()} }`, 'c'),
      ),
    ).toEqual([
      'case.yaml:6: GatewayRoute/a: spec.httpRoute.match: a gateway route match needs prefix, path or hostname, got: none',
      'case.yaml:22: GatewayRoute/c: spec.httpRoute.match: a match takes prefix or path, not both, got: prefix /',
    ]);
  });

  test('rewrites: a prefix rewrite needs a prefix match, a path rewrite a path match, defaultPrefix or value', () => {
    const rewrite = (name: string, match: string, rw: string) =>
      gatewayRoute(`    httpRoute:\n      match: ${match}\n      action:\n        target: ${service()}\n        rewrite:\n          ${rw}`, name);
    expect(
      check(
        rewrite('a', '{ path: { exact: /a } }', 'prefix: { value: /v2/ }'),
        rewrite('b', '{ prefix: /b/ }', 'path: { exact: /v2 }'),
        rewrite('c', '{ prefix: /c/ }', 'prefix: { defaultPrefix: DISABLED, value: /v2/ }'),
        rewrite('ok', '{ prefix: /ok/ }', 'prefix: { value: /v2/ }'),
      ),
    ).toEqual([
      'case.yaml:10: GatewayRoute/a: spec.httpRoute.action.rewrite.prefix: a prefix rewrite needs match.prefix, got: /v2/',
      'case.yaml:21: GatewayRoute/b: spec.httpRoute.action.rewrite.path: a path rewrite needs match.path (exact or regex), got: /v2',
      'case.yaml:32: GatewayRoute/c: spec.httpRoute.action.rewrite.prefix: a prefix rewrite takes defaultPrefix or value, not both, got: defaultPrefix DISABLED',
    ]);
  });

  test('two gateway routes with the same priority and match conflict', () => {
    const spec = `    httpRoute: { match: { prefix: /a }, action: { target: ${service()} } }`;
    expect(check(gatewayRoute(spec, 'first'), gatewayRoute(spec, 'second'))).toEqual([
      'case.yaml:11: GatewayRoute/second: spec.httpRoute.match: GatewayRoute first of virtual gateway edge has the same priority and match, so this one can never be chosen, got: priority unset',
    ]);
  });
});

describe('fields the sidecar does not apply yet', () => {
  const warnings = (...docs: string[]) => meshWarnings(loadWith(...docs)).map(formatModelWarning);

  test('a per-try timeout longer than the route timeout is a warning, not an error (the route timeout caps it)', () => {
    const docs = [
      route(`
    httpRoute:
      match: { prefix: /a }
      ${target()}
      timeout: { perRequest: 1s }
      retryPolicy: { maxRetries: 3, perRetryTimeout: 2s, httpRetryEvents: [server-error] }`, 'long'),
      route(`
    httpRoute:
      match: { prefix: /b }
      ${target()}
      timeout: { perRequest: 3s }
      retryPolicy: { maxRetries: 3, perRetryTimeout: 2s, httpRetryEvents: [server-error] }`, 'short'),
    ];
    expect(check(...docs)).toEqual([]);
    expect(warnings(...docs)).toEqual([
      expect.stringMatching(/^case\.yaml:\d+: warning: Route\/long: spec\.httpRoute\.retryPolicy\.perRetryTimeout: the per-try timeout is longer than the route's timeout \(1s\), which caps every try and all of them together, got: 2s$/),
    ]);
  });

  test('retries, faults and mirrors (applied) are not warnings', () => {
    const docs = [
      route(`
    httpRoute:
      match: { prefix: /a }
      ${target()}
      retryPolicy: { maxRetries: 3, perRetryTimeout: 2s, httpRetryEvents: [server-error] }`, 'retries'),
      route(`
    httpRoute:
      match: { prefix: /b }
      ${target()}
      fault:
        delay: { percentage: 10, fixedDelay: 1s }
      mirror: { virtualNode: order-v2 }`, 'chaos'),
      route(`
    httpRoute:
      match: { prefix: /c }
      ${target()}
      retryPolicy: { maxRetries: 0, perRetryTimeout: 2s, httpRetryEvents: [server-error] }`, 'once'),
      route(`
    grpcRoute:
      match: { serviceName: orders.Orders, port: 9090 }
      action: { weightedTargets: [{ virtualNode: multi, weight: 1, port: 9090 }] }
      retryPolicy: { maxRetries: 1, perRetryTimeout: 1s, grpcRetryEvents: [unavailable] }`, 'grpc', 'multi-router'),
    ];
    expect(check(...docs)).toEqual([]);
    expect(warnings(...docs)).toEqual([]);
  });

  test("a gateway's listener health checks are warnings; access logs and outlier detection are applied", () => {
    const healthCheck = '{ protocol: http, path: /health, healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000 }';
    const docs = [
      node(`
    listeners:
      - portMapping: { port: 8080, protocol: http }
        healthCheck: ${healthCheck}
        outlierDetection: { maxServerErrors: 5, interval: 10s, baseEjectionDuration: 30s, maxEjectionPercent: 50 }
    serviceDiscovery: { dns: { hostname: n.orders.local } }
    logging: { accessLog: { file: { path: /dev/stdout } } }`),
      `
      apiVersion: weft.dev/v1alpha1
      kind: VirtualGateway
      metadata: { name: api }
      spec:
        listeners:
          - portMapping: { port: 443, protocol: http }
            healthCheck: { protocol: tcp, healthyThreshold: 2, unhealthyThreshold: 2, intervalMillis: 5000, timeoutMillis: 2000 }`,
    ];
    expect(check(...docs)).toEqual([]);
    expect(warnings(...docs)).toEqual([
      "case.yaml:18: warning: VirtualGateway/api: spec.listeners[0].healthCheck: a gateway's sidecar does not run its listeners' health checks yet (a virtual node's sidecar does check its own app, and callers check virtual node listeners), got: tcp",
    ]);
  });

  test('an access log format with an operator the sidecar cannot fill is an error at the field', () => {
    const text = node(`
    logging: { accessLog: { file: { path: /dev/stdout, format: { text: '[%START_TIME%] %REQ(:METHOD)% %RESPONSE_CODE% %BOGUS% %RESP(content-type)%' } } } }`);
    expect(check(text)).toEqual([
      expect.stringMatching(/^case\.yaml:\d+: VirtualNode\/n: spec\.logging\.accessLog\.file\.format\.text: unknown access log operator %BOGUS%; supported: START_TIME, REQ\(X\?Y\):Z, /),
      expect.stringMatching(/spec\.logging\.accessLog\.file\.format\.text: operator %RESP\(\.\.\.\)% can only read x-envoy-upstream-service-time .*got: %RESP\(content-type\)%$/),
    ]);
    const json = node(`
    logging: { accessLog: { file: { path: /dev/stdout, format: { json: [{ key: code, value: '%RESPONSE_CODE%' }, { key: start, value: '%START_TIME(%s)%' }] } } } }`);
    // Envoy's strftime argument is not supported: the operator is refused where it is written.
    expect(check(json)).toEqual([
      expect.stringMatching(/spec\.logging\.accessLog\.file\.format\.json\[1\]\.value: unknown access log operator %START_TIME\(%/),
      expect.stringMatching(/spec\.logging\.accessLog\.file\.format\.json\[1\]\.value: a '%' opens an operator that is never closed/),
    ]);
    expect(check(node(`
    logging: { accessLog: { file: { path: /dev/stdout, format: { text: '%REQ(X-REQUEST-ID?:AUTHORITY):10% %%' } } } }`))).toEqual([]);
  });

  test('authorization, JWT rules and rate limits are enforced: a mesh with all three is neither an error nor a warning', () => {
    const docs = [
      node(`
    authorization:
      - name: only-the-gateway
        rules: [{ from: [{ principals: ['spiffe://order-mesh/ns/order-mesh/sa/edge'] }] }]
    rateLimit: { maxTokens: 100, tokensPerFill: 10, fillIntervalMs: 1000 }`),
      `
      apiVersion: weft.dev/v1alpha1
      kind: VirtualGateway
      metadata: { name: api }
      spec:
        listeners: [{ portMapping: { port: 443, protocol: http } }]
        jwt: [{ issuer: https://issuer.example, jwksUri: https://issuer.example/jwks.json }]`,
    ];
    expect(check(...docs)).toEqual([]);
    expect(warnings(...docs)).toEqual([]);
  });

  test('rate limits are checked at their field paths: bucket values, perKey keys and the key table cap', () => {
    const { errors } = loadMeshSources([
      { file: 'base.yaml', text: BASE },
      {
        file: 'case.yaml',
        text: yaml(
          node(`
    rateLimit:
      maxTokens: 0
      tokensPerFill: 10
      fillIntervalMs: 1000
      perKey:
        - { key: { header: 'bad header' }, maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000 }
        - { key: { sourceIp: true }, maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 0, maxKeys: 2000000 }`),
        ),
      },
    ]);
    expect(errors.map(formatModelError)).toEqual([
      'case.yaml:6: VirtualNode/n: spec.rateLimit.maxTokens: must be at least 1, got: 0',
      'case.yaml:10: VirtualNode/n: spec.rateLimit.perKey[0].key.header: must be an HTTP token (RFC 9110 field-name), got: bad header',
      'case.yaml:11: VirtualNode/n: spec.rateLimit.perKey[1].fillIntervalMs: must be at least 1, got: 0',
      'case.yaml:11: VirtualNode/n: spec.rateLimit.perKey[1].maxKeys: must be at most 1000000, got: 2000000',
    ]);
    // A valid limit with keys is no error and no warning: the sidecar enforces it.
    const valid = node(`
    rateLimit:
      maxTokens: 100
      tokensPerFill: 10
      fillIntervalMs: 1000
      perKey: [{ key: { principal: true }, maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000, maxKeys: 500 }]`);
    expect(check(valid)).toEqual([]);
    expect(warnings(valid)).toEqual([]);
  });

  test('JWT rules are checked at their field paths: an http(s) jwksUri, an inline JWKS of usable public keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicJwk = JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1' }] });
    const privateJwk = JSON.stringify({ keys: [rsa.privateKey.export({ format: 'jwk' })] });
    const rule = (fields: string) => `          - issuer: https://issuer.example\n${fields}`;
    const gw = (rules: string[]) => `
      apiVersion: weft.dev/v1alpha1
      kind: VirtualGateway
      metadata: { name: api }
      spec:
        listeners: [{ portMapping: { port: 443, protocol: http } }]
        jwt:
${rules.join('\n')}`;
    expect(
      check(
        gw([
          rule(`            jwksUri: ftp://issuer.example/jwks.json`),
          rule(`            jwks: 'not json'`),
          rule(`            jwks: '{"keys":[]}'`),
          rule(`            jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'`),
          rule(`            jwks: '${privateJwk}'`),
          rule(`            jwks: '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"HS256"}]}'`),
          rule(`            jwks: '${publicJwk}'`),
        ]),
      ).map((e) => e.replace(/^case\.yaml:\d+: VirtualGateway\/api: /, '').replace(/(: [^:]*).*$/, '$1')),
    ).toEqual([
      'spec.jwt[0].jwksUri: must be an http',
      'spec.jwt[1].jwks: is not JSON',
      'spec.jwt[2].jwks: has no keys',
      'spec.jwt[3].jwks: keys[0] kty must be RSA, EC or OKP (asymmetric keys only, so no HS* token is ever accepted), got',
      'spec.jwt[4].jwks: keys[0] is a private key',
      'spec.jwt[5].jwks: keys[0] alg must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519, got',
    ]);
  });

  test('authorization values are checked at their field paths: CIDRs, principals, ports, when keys', () => {
    expect(
      check(
        node(`
    authorization:
      - name: bad
        rules:
          - from: [{ principals: ['edge'], ipBlocks: ['10.0.0.0/33'] }]
            when: [{ key: 'request.auth.claim[iss]', values: ['x'] }, { key: destination.port, values: ['http'] }]`),
      ).map((e) => e.replace(/: (unknown key )?'.*$/, '')),
    ).toEqual([
      'case.yaml:8: VirtualNode/n: spec.authorization[0].rules[0].from[0].principals[0]',
      'case.yaml:8: VirtualNode/n: spec.authorization[0].rules[0].from[0].ipBlocks[0]',
      'case.yaml:9: VirtualNode/n: spec.authorization[0].rules[0].when[0].key',
      'case.yaml:9: VirtualNode/n: spec.authorization[0].rules[0].when[1].values[0]',
    ]);
  });

  test('empty authorization and JWT lists are the default, not a policy', () => {
    expect(check(node(`    authorization: []
    jwt: []`))).toEqual([]);
  });
});

describe('models built by other front ends (CDK)', () => {
  test('names are unique per kind and every resource names the mesh it is in', () => {
    const model = loadWith('');
    const copy = { ...model.virtualServices[0], source: { file: 'lib/stack.ts', id: 'Stack/Order' } };
    const stray = { ...model.virtualNodes[0], name: 'stray', meshName: 'other-mesh', source: { file: 'lib/stack.ts', id: 'Stack/Stray' } };
    model.virtualServices.push(copy);
    model.virtualNodes.push(stray);
    expect(validateMesh(model).map(formatModelError)).toEqual([
      'lib/stack.ts: VirtualNode/stray: metadata.mesh: a resource of mesh order-mesh must name that mesh, got: other-mesh',
      'lib/stack.ts: VirtualService/order.orders.local: metadata.name: VirtualService names must be unique in mesh order-mesh, got: order.orders.local',
    ]);
  });
});
