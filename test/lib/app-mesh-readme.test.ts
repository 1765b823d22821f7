/**
 * Examples from the aws-cdk-lib/aws-appmesh README, copied with only the import changed, must
 * synthesize with Weft. `declare const` placeholders of the README are filled in by the stack.
 */
import * as cdk from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import * as appmesh from '../../lib';
import { cfnValidationErrors, publishedConfigs } from './synth-helpers';

function synth(build: (scope: Construct) => void) {
  const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new cdk.Stack(app, 'stack');
  build(stack);
  const template = Template.fromStack(stack);
  // Every README example must also be a template CloudFormation accepts.
  expect(cfnValidationErrors(template.toJSON())).toEqual([]);
  return publishedConfigs(template, () => 'token');
}

describe('aws-appmesh README examples', () => {
  test('creating the mesh', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      {
        const mesh = new appmesh.Mesh(self, 'AppMesh', {
          meshName: 'myAwsMesh',
          serviceDiscovery: {
            ipPreference: appmesh.IpPreference.IPV4_ONLY,
          },
        });
        mesh.addVirtualNode('probe', { listeners: [appmesh.VirtualNodeListener.http()] });
      }
    });
    // THEN
    expect(configs[0].mesh).toEqual({ name: 'myAwsMesh', egressFilter: 'DROP_ALL', trustDomain: 'myawsmesh' });
  });

  test('a virtual node with Cloud Map discovery and a listener health check', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      const mesh = new appmesh.Mesh(self, 'Mesh', { meshName: 'mesh' });
      // README: "Adding a VirtualNode"
      const vpc = new ec2.Vpc(self, 'vpc');
      const namespace = new cloudmap.PrivateDnsNamespace(self, 'test-namespace', {
        vpc,
        name: 'domain.local',
      });
      const service = namespace.createService('Svc');

      const node = mesh.addVirtualNode('virtual-node', {
        serviceDiscovery: appmesh.ServiceDiscovery.cloudMap(service),
        listeners: [appmesh.VirtualNodeListener.http({
          port: 8081,
          healthCheck: appmesh.HealthCheck.http({
            healthyThreshold: 3,
            interval: Duration.seconds(5), // minimum
            path: '/health-check-path',
            timeout: Duration.seconds(2), // minimum
            unhealthyThreshold: 2,
          }),
        })],
        accessLog: appmesh.AccessLog.fromFilePath('/dev/stdout'),
      });
      expect(node.virtualNodeName).toMatch(/virtualnode/i);
    });
    // THEN
    expect(configs[0].inbound.listeners[0]).toMatchObject({
      port: 8081,
      healthCheck: { protocol: 'http', path: '/health-check-path', healthyThreshold: 3, unhealthyThreshold: 2, intervalMs: 5000, timeoutMs: 2000 },
    });
    expect(configs[0].logging.accessLog).toEqual({ path: '/dev/stdout' });
  });

  test('a router with prefix and retrying routes', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      const mesh = new appmesh.Mesh(self, 'Mesh', { meshName: 'mesh' });
      const node = mesh.addVirtualNode('node', { serviceDiscovery: appmesh.ServiceDiscovery.dns('node'), listeners: [appmesh.VirtualNodeListener.http()] });
      // README: "Adding VirtualRouters"
      const router = mesh.addVirtualRouter('router', {
        listeners: [appmesh.VirtualRouterListener.http(8080)],
      });
      // README: "Adding a Route" (prefix match)
      router.addRoute('route-http', {
        routeSpec: appmesh.RouteSpec.http({
          weightedTargets: [
            {
              virtualNode: node,
            },
          ],
          match: {
            // Path that is passed to this method must start with '/'.
            path: appmesh.HttpRoutePathMatch.startsWith('/path-to-app'),
          },
        }),
      });
      // README: "Add an http2 route with retries" (its `declare const router` has an HTTP/2 listener)
      const router2 = mesh.addVirtualRouter('router2', { listeners: [appmesh.VirtualRouterListener.http2(8080)] });
      router2.addRoute('route-http2-retry', {
        routeSpec: appmesh.RouteSpec.http2({
          weightedTargets: [{ virtualNode: node }],
          retryPolicy: {
            // Retry if the connection failed
            tcpRetryEvents: [appmesh.TcpRetryEvent.CONNECTION_ERROR],
            // Retry if HTTP responds with a gateway error (502, 503, 504)
            httpRetryEvents: [appmesh.HttpRetryEvent.GATEWAY_ERROR],
            // Retry five times
            retryAttempts: 5,
            // Use a 1 second timeout per retry
            retryTimeout: Duration.seconds(1),
          },
        }),
      });
      // README: "Adding a VirtualService"
      const virtualService = new appmesh.VirtualService(self, 'virtual-service', {
        virtualServiceName: 'my-service.default.svc.cluster.local', // optional
        virtualServiceProvider: appmesh.VirtualServiceProvider.virtualRouter(router),
      });
      const service2 = new appmesh.VirtualService(self, 'virtual-service-2', {
        virtualServiceName: 'my-service-2.default.svc.cluster.local',
        virtualServiceProvider: appmesh.VirtualServiceProvider.virtualRouter(router2),
      });
      mesh.addVirtualNode('client', { backends: [appmesh.Backend.virtualService(virtualService), appmesh.Backend.virtualService(service2)] });
    });
    // THEN
    const client = configs.find((c) => c.outbound.services.length > 0)!;
    const routeOf = (name: string) => client.outbound.services.find((s) => s.name === name)!.listeners[0].routes[0];
    const [first, second] = [routeOf('my-service.default.svc.cluster.local'), routeOf('my-service-2.default.svc.cluster.local')];
    expect(first.protocol === 'http' && first.match.path).toEqual({ prefix: '/path-to-app' });
    expect(second.retryPolicy).toMatchObject({ maxRetries: 5, perTryTimeoutMs: 1000, httpRetryEvents: ['gateway-error'], tcpRetryEvents: ['connection-error'] });
  });

  test('a virtual gateway with gateway routes', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      const mesh = new appmesh.Mesh(self, 'Mesh', { meshName: 'mesh' });
      const node = mesh.addVirtualNode('node', { serviceDiscovery: appmesh.ServiceDiscovery.dns('node'), listeners: [appmesh.VirtualNodeListener.http()] });
      const virtualService = new appmesh.VirtualService(self, 'virtual-service', {
        virtualServiceName: `my-service.default.svc.cluster.local`, // optional
        virtualServiceProvider: appmesh.VirtualServiceProvider.virtualNode(node),
      });
      // README: "Add a virtual gateway directly to the mesh"
      const gateway = mesh.addVirtualGateway('gateway', {
        accessLog: appmesh.AccessLog.fromFilePath('/dev/stdout'),
        virtualGatewayName: 'virtualGateway',
          listeners: [appmesh.VirtualGatewayListener.http({
            port: 443,
            healthCheck: appmesh.HealthCheck.http({
              interval: Duration.seconds(10),
            }),
        })],
      });
      // README: "Adding a Gateway Route"
      gateway.addGatewayRoute('gateway-route-http', {
        routeSpec: appmesh.GatewayRouteSpec.http({
          routeTarget: virtualService,
          match: {
            path: appmesh.HttpGatewayRoutePathMatch.regex('regex'),
          },
        }),
      });
      gateway.addGatewayRoute('gateway-route-http-1', {
        routeSpec: appmesh.GatewayRouteSpec.http({
          routeTarget: virtualService,
          match: {
            // If the request full path is '/path-to-app/xxxxx', this rewrites the path to '/rewrittenUri/xxxxx'.
            // Please note both `prefixPathMatch` and `rewriteTo` must start and end with the `/` character.
            path: appmesh.HttpGatewayRoutePathMatch.startsWith('/path-to-app/', '/rewrittenUri/'),
          },
        }),
      });
      gateway.addGatewayRoute('gateway-route-http-2', {
        routeSpec: appmesh.GatewayRouteSpec.http({
          routeTarget: virtualService,
          match: {
            // This rewrites the path from '/test' to '/rewrittenPath'.
            path: appmesh.HttpGatewayRoutePathMatch.exactly('/test', '/rewrittenPath'),
          },
        }),
      });
    });
    // THEN
    const gateway = configs.find((c) => c.node.name === 'virtualGateway')!;
    expect(gateway.gateway?.listeners[0]).toMatchObject({ port: 443, healthCheck: { intervalMs: 10000 } });
    expect(gateway.gateway?.routes.map((r) => [r.match.path, r.rewrite])).toEqual(
      expect.arrayContaining([
        [{ regex: 'regex' }, { hostnameToTarget: true }],
        [{ prefix: '/path-to-app/' }, { prefix: '/rewrittenUri/', hostnameToTarget: true }],
        [{ exact: '/test' }, { path: '/rewrittenPath', hostnameToTarget: true }],
      ]),
    );
  });

  test('mutual TLS authentication', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      const mesh = new appmesh.Mesh(self, 'Mesh', { meshName: 'mesh' });
      // README: "Adding mutual TLS authentication"
      const node1 = new appmesh.VirtualNode(self, 'node1', {
        mesh,
        serviceDiscovery: appmesh.ServiceDiscovery.dns('node'),
        listeners: [appmesh.VirtualNodeListener.grpc({
          port: 80,
          tls: {
            mode: appmesh.TlsMode.STRICT,
            certificate: appmesh.TlsCertificate.file('path/to/certChain', 'path/to/privateKey'),
            // Validate a file client certificates to enable mutual TLS authentication when a client provides a certificate.
            mutualTlsValidation: {
              trust: appmesh.TlsValidationTrust.file('path-to-certificate'),
            },
          },
        })],
      });

      const certificateAuthorityArn = 'arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/12345678-1234-1234-1234-123456789012';
      const node2 = new appmesh.VirtualNode(self, 'node2', {
        mesh,
        serviceDiscovery: appmesh.ServiceDiscovery.dns('node2'),
        backendDefaults: {
          tlsClientPolicy: {
            ports: [8080, 8081],
            validation: {
              subjectAlternativeNames: appmesh.SubjectAlternativeNames.matchingExactly('mesh-endpoint.apps.local'),
              trust: appmesh.TlsValidationTrust.acm([
                acmpca.CertificateAuthority.fromCertificateAuthorityArn(self, 'certificate', certificateAuthorityArn)]),
            },
            // Provide a SDS client certificate when a server requests it and enable mutual TLS authentication.
            mutualTlsCertificate: appmesh.TlsCertificate.sds('secret_certificate'),
          },
        },
      });
      expect(node2.mesh).toBe(mesh);
      expect(node1.mesh).toBe(mesh);
    });
    // THEN
    const node1 = configs.find((c) => c.inbound.listeners.length > 0)!;
    expect(node1.inbound.listeners[0].tls).toEqual({
      mode: 'STRICT',
      certificate: { file: { certificateChain: 'path/to/certChain', privateKey: 'path/to/privateKey' } },
      validation: { trust: { file: { certificateChain: 'path-to-certificate' } }, subjectAlternativeNames: [] },
    });
  });

  test('outlier detection and connection pools', () => {
    // GIVEN / WHEN
    const configs = synth((scope) => {
      const self = scope;
      const mesh = new appmesh.Mesh(self, 'Mesh', { meshName: 'mesh' });
      // README: "Adding a connection pool to a listener"
      const node = new appmesh.VirtualNode(self, 'node', {
        mesh,
        serviceDiscovery: appmesh.ServiceDiscovery.dns('node', appmesh.DnsResponseType.ENDPOINTS),
        listeners: [appmesh.VirtualNodeListener.http({
          port: 80,
          connectionPool: {
            maxConnections: 100,
            maxPendingRequests: 10,
          },
          outlierDetection: {
            baseEjectionDuration: Duration.seconds(10),
            interval: Duration.seconds(30),
            maxEjectionPercent: 50,
            maxServerErrors: 5,
          },
        })],
      });
      const gateway = new appmesh.VirtualGateway(self, 'gateway', {
        mesh,
        listeners: [appmesh.VirtualGatewayListener.grpc({
          port: 8080,
          connectionPool: {
            maxRequests: 10,
          },
        })],
        virtualGatewayName: 'gateway',
      });
      expect([node.mesh, gateway.mesh]).toEqual([mesh, mesh]);
    });
    // THEN
    const node = configs.find((c) => c.node.kind === 'virtualNode')!;
    expect(node.inbound.listeners[0]).toMatchObject({
      connectionPool: { maxConnections: 100, maxPendingRequests: 10 },
      outlierDetection: { consecutive5xx: 5, intervalMs: 30000, baseEjectionMs: 10000, maxEjectionPercent: 50 },
    });
  });
});
