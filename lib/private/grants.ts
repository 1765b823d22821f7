/** IAM least privilege of a sidecar: its own config and secret, its backends' Cloud Map services. */
import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { certificateSecretName, nodeConfigKey, trustBundleKey } from '../../proxy/contracts';
import { acknowledgeNag } from './nag';
import type { MeshRegistry } from './registry';

// IAM rejects empty condition value lists; Cloud Map names cannot contain ':', so this one keeps
// the statement inert for a sidecar with no Cloud Map backends.
const NO_SERVICE = 'weft:none';

/** The node's own Cloud Map service, when its sidecars set their tasks' custom health status. */
export interface OwnHealthService {
  readonly serviceId: string;
}

export function grantSidecar(scope: Construct, registry: MeshRegistry, meshName: string, name: string, grantee: iam.IGrantable, own?: OwnHealthService): iam.Grant {
  const stack = cdk.Stack.of(scope);
  const bucket = registry.plane.bucket;
  let grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetObject'],
    resourceArns: [bucket.arnForObjects(nodeConfigKey(meshName, name)), bucket.arnForObjects(trustBundleKey(meshName))],
  });
  const backends = (pick: 'namespaceName' | 'serviceName') =>
    cdk.Lazy.list({
      produce: () => {
        const config = registry.compile().configs.find((c) => c.node.name === name);
        const names = new Set<string>();
        for (const cluster of config?.clusters ?? []) if (cluster.discovery.type === 'cloudMap') names.add(cluster.discovery[pick]);
        return names.size > 0 ? [...names] : [NO_SERVICE];
      },
    });
  grant = grant.combine(
    iam.Grant.addToPrincipal({
      grantee,
      // DiscoverInstances has no resource-level permissions: scope it by namespace and service name.
      actions: ['servicediscovery:DiscoverInstances', 'servicediscovery:DiscoverInstancesRevision'],
      resourceArns: ['*'],
      conditions: { StringEquals: { 'servicediscovery:NamespaceName': backends('namespaceName'), 'servicediscovery:ServiceName': backends('serviceName') } },
    }),
  );
  if (own !== undefined) {
    grant = grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        // Its own tasks' health status in its own service; the call names the instance, which
        // IAM cannot scope further.
        actions: ['servicediscovery:UpdateInstanceCustomHealthStatus'],
        resourceArns: [stack.formatArn({ service: 'servicediscovery', resource: 'service', resourceName: own.serviceId })],
      }),
    );
  }
  if (registry.plane.certificateAuthorityArn !== undefined) {
    grant = grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['secretsmanager:GetSecretValue'],
        // Secrets Manager appends '-' and six random characters to a secret's name in its ARN.
        resourceArns: [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${certificateSecretName(meshName, name)}-??????`, arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
  }
  const principal = grantee.grantPrincipal;
  if (principal instanceof iam.Role) {
    acknowledgeNag(principal, [
      [
        'AwsSolutions-IAM5[Resource::*]',
        "servicediscovery:DiscoverInstances names a backend by namespace and service name, and a backend's Cloud Map ids are not always known to this app (a service named by name, or made by another stack); Weft scopes it to exactly those names with the servicediscovery:NamespaceName and ServiceName conditions",
      ],
    ]);
  }
  return grant;
}
