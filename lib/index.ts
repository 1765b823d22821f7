/**
 * Weft's CDK constructs: the aws-cdk-lib/aws-appmesh API (same names, props and defaults) plus
 * Weft's extensions (inbound policy, load balancing, route fault/mirror/headers/rewrite/redirect,
 * ECS sidecar wiring). See docs/migrating-from-app-mesh.md.
 */
export * from './mesh';
export * from './mesh-dashboard';
export * from './mesh-alarms';
export * from './route';
export * from './service-discovery';
export * from './route-spec';
export * from './shared-interfaces';
export * from './tls-certificate';
export * from './virtual-node';
export * from './virtual-router';
export * from './virtual-router-listener';
export * from './virtual-service';
export * from './virtual-node-listener';
export * from './virtual-gateway';
export * from './virtual-gateway-listener';
export * from './gateway-route';
export * from './gateway-route-spec';
export * from './health-checks';
export * from './listener-tls-options';
export * from './tls-validation';
export * from './tls-client-policy';
export * from './http-route-method';
export * from './header-match';
export * from './query-parameter-match';
export * from './http-route-path-match';
export * from './weft-policies';
export * from './sidecar';
