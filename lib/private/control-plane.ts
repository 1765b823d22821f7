/**
 * What runs a Weft mesh instead of App Mesh's service: the config bucket, config publish (a
 * custom resource that writes each node's compiled config and the task registry to S3 at deploy),
 * the Cloud Map namespace and services, discovery sync, certificate sync and the mesh CA.
 */
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as acmpca from 'aws-cdk-lib/aws-acmpca';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  TASK_REGISTRY_SCHEMA,
  certificateSecretName,
  taskRegistryKey,
  trustBundleKey,
  type TaskRegistry,
  type TaskRegistryEntry,
} from '../../proxy/contracts';
import type { MeshCompilation, MeshPlane } from './registry';
import { LAMBDA_BASIC_EXECUTION, acknowledgeNag, nagRef } from './nag';
import { findWeftRoot } from './repo-root';

/** Environment variables of the controllers (their handlers read these names). */
export const CONTROLLER_ENV = {
  mesh: 'WEFT_MESH',
  bucket: 'WEFT_CONFIG_BUCKET',
  trustDomain: 'WEFT_TRUST_DOMAIN',
  caArn: 'WEFT_CA_ARN',
  certificateValidityDays: 'WEFT_CERT_VALIDITY_DAYS',
  clusters: 'WEFT_CLUSTERS',
} as const;

export interface MeshControlPlaneProps {
  readonly meshName: string;
  readonly trustDomain: string;
  readonly namespace?: cloudmap.INamespace;
  readonly configBucket?: s3.IBucket;
  readonly certificateAuthority?: { readonly kind: 'new'; readonly commonName?: string } | { readonly kind: 'existing'; readonly arn: string };
  readonly clusters?: ecs.ICluster[];
  readonly reconcileInterval?: cdk.Duration;
  readonly certificateSyncInterval?: cdk.Duration;
  readonly certificateLifetime?: cdk.Duration;
  readonly compile: () => MeshCompilation;
  readonly taskFamilies: () => ReadonlyMap<string, { node: string; entry: () => TaskRegistryEntry }>;
}

export class MeshControlPlane extends Construct implements MeshPlane {
  readonly bucket: s3.IBucket;
  readonly namespace: cloudmap.INamespace;
  readonly namespaceName: string;
  readonly certificateAuthorityArn?: string;
  readonly configPublish: cdk.CustomResource;
  readonly discoverySync: nodejs.NodejsFunction;
  /** Cloud Map service ids discovery sync registers tasks in (see allowRegistration). */
  private readonly registrationServices = new Set<string>();
  readonly certificateSync?: nodejs.NodejsFunction;
  private readonly services = new Map<string, cloudmap.Service>();
  private readonly root = findWeftRoot('lambda');

  constructor(
    scope: Construct,
    id: string,
    private readonly props: MeshControlPlaneProps,
  ) {
    super(scope, id);
    const stack = cdk.Stack.of(this);
    const mesh = props.meshName;

    this.bucket =
      props.configBucket ??
      new s3.Bucket(this, 'ConfigBucket', {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
      });
    if (!props.configBucket) {
      acknowledgeNag(this.bucket, [
        ['AwsSolutions-S1', 'The config bucket holds only configs that config publish writes at deploy; it is versioned, and CloudTrail data events audit access where an account needs it'],
      ]);
    }
    this.namespace = props.namespace ?? new cloudmap.HttpNamespace(this, 'Namespace', { name: `weft-${mesh}`, description: `Weft mesh ${mesh}` });
    this.namespaceName = this.namespace.namespaceName;

    // --- config publish ---
    const publishFn = this.controller('ConfigPublishFunction', 'config-publish', 'Publishes compiled Weft node configs to S3');
    publishFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:GetObject'],
        resources: [this.bucket.arnForObjects(`${mesh}/*`)],
      }),
    );
    publishFn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${mesh}/*`] } },
      }),
    );
    if (!props.configBucket) {
      acknowledgeNag(publishFn, [
        [`AwsSolutions-IAM5[Resource::${nagRef(this.bucket, 'Arn')}/${mesh}/*]`, 'Config publish writes and prunes every object of its own mesh prefix (one per node), which it can only name at deploy'],
      ]);
    }
    const provider = new cr.Provider(this, 'ConfigPublishProvider', {
      onEventHandler: publishFn,
      logGroup: new logs.LogGroup(this, 'ConfigPublishProviderLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: cdk.RemovalPolicy.DESTROY }),
    });
    acknowledgeNag(provider, [
      [LAMBDA_BASIC_EXECUTION, 'The CDK custom resource provider framework uses the AWS managed basic execution role for its log writes'],
      [`AwsSolutions-IAM5[Resource::${nagRef(publishFn, 'Arn')}:*]`, 'The provider framework invokes any version of the config publish function; the wildcard is the version qualifier'],
      ['AwsSolutions-L1', 'The provider framework function runtime is chosen by aws-cdk-lib'],
    ]);
    this.configPublish = new cdk.CustomResource(this, 'ConfigPublish', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::WeftConfigPublish',
      properties: {
        Bucket: this.bucket.bucketName,
        Mesh: mesh,
        // One JSON string per node: CloudFormation turns every scalar of a custom resource's
        // properties into a string, so structured values must travel as JSON text. Tokens inside
        // (Cloud Map names and ids created in this app) are resolved by CloudFormation at deploy.
        NodeConfigs: cdk.Lazy.any({ produce: () => props.compile().configs.map((c) => stack.toJsonString(c)) }),
        TaskRegistry: cdk.Lazy.string({ produce: () => stack.toJsonString(this.taskRegistry()) }),
      },
    });

    // --- discovery sync ---
    this.discoverySync = this.controller('DiscoverySyncFunction', 'discovery', 'Keeps Cloud Map instances equal to the running ECS tasks of Weft nodes');
    this.discoverySync.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(taskRegistryKey(mesh))] }));
    this.discoverySync.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:DescribeTasks', 'ecs:ListTasks'],
        resources: ['*'],
        conditions: props.clusters ? { ArnEquals: { 'ecs:cluster': props.clusters.map((c) => c.clusterArn) } } : undefined,
      }),
    );
    if (props.clusters) {
      this.discoverySync.addEnvironment(CONTROLLER_ENV.clusters, props.clusters.map((c) => c.clusterArn).join(','));
    } else {
      // Without a cluster list, reconcile walks every cluster of the account and Region.
      this.discoverySync.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:ListClusters'], resources: ['*'] }));
    }
    if (this.namespace.type !== cloudmap.NamespaceType.HTTP) {
      // Registering in a DNS namespace makes Cloud Map write Route 53 records as the caller.
      this.discoverySync.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['route53:ChangeResourceRecordSets', 'route53:GetHealthCheck', 'route53:CreateHealthCheck', 'route53:UpdateHealthCheck', 'route53:DeleteHealthCheck'],
          resources: ['*'],
        }),
      );
    }
    acknowledgeNag(this.discoverySync, [
      ['AwsSolutions-IAM5[Resource::*]', 'ecs:DescribeTasks, ecs:ListTasks and ecs:ListClusters have no resource-level scoping Weft can name before the tasks exist; ListTasks and DescribeTasks are conditioned on the mesh clusters when given'],
    ]);
    new events.Rule(this, 'TaskStateChange', {
      description: `Weft mesh ${mesh}: ECS task state changes to discovery sync`,
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: props.clusters ? { clusterArn: props.clusters.map((c) => c.clusterArn) } : undefined,
      },
      targets: [new targets.LambdaFunction(this.discoverySync, { retryAttempts: 4 })],
    });
    new events.Rule(this, 'Reconcile', {
      description: `Weft mesh ${mesh}: periodic discovery reconcile`,
      schedule: events.Schedule.rate(props.reconcileInterval ?? cdk.Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.discoverySync)],
    });

    // --- mesh CA and certificate sync ---
    const ca = props.certificateAuthority;
    if (ca) {
      let caArn: string;
      let activation: cdk.CfnResource | undefined;
      if (ca.kind === 'new') {
        const authority = new acmpca.CfnCertificateAuthority(this, 'CertificateAuthority', {
          type: 'ROOT',
          keyAlgorithm: 'EC_prime256v1',
          signingAlgorithm: 'SHA256WITHECDSA',
          usageMode: 'SHORT_LIVED_CERTIFICATE',
          subject: { commonName: ca.commonName ?? `${props.trustDomain} Weft mesh CA`, organization: 'Weft' },
        });
        const rootCert = new acmpca.CfnCertificate(this, 'CertificateAuthorityCertificate', {
          certificateAuthorityArn: authority.attrArn,
          certificateSigningRequest: authority.attrCertificateSigningRequest,
          signingAlgorithm: 'SHA256WITHECDSA',
          templateArn: `arn:${stack.partition}:acm-pca:::template/RootCACertificate/V1`,
          validity: { type: 'YEARS', value: 10 },
        });
        activation = new acmpca.CfnCertificateAuthorityActivation(this, 'CertificateAuthorityActivation', {
          certificateAuthorityArn: authority.attrArn,
          certificate: rootCert.attrCertificate,
          status: 'ACTIVE',
        });
        caArn = authority.attrArn;
      } else {
        caArn = ca.arn;
      }
      this.certificateAuthorityArn = caArn;
      const validityDays = (props.certificateLifetime ?? cdk.Duration.days(7)).toDays();
      if (!Number.isInteger(validityDays) || validityDays < 1 || (ca.kind === 'new' && validityDays > 7)) {
        throw new Error(`certificateLifetime must be a whole number of days, at most 7 with a short-lived CA, got: ${validityDays} days`);
      }
      const fn = this.controller('CertificateSyncFunction', 'certificates', 'Issues and rotates Weft node certificates from the mesh Private CA');
      fn.addEnvironment(CONTROLLER_ENV.trustDomain, props.trustDomain);
      fn.addEnvironment(CONTROLLER_ENV.caArn, caArn);
      fn.addEnvironment(CONTROLLER_ENV.certificateValidityDays, String(validityDays));
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['acm-pca:IssueCertificate', 'acm-pca:GetCertificate', 'acm-pca:GetCertificateAuthorityCertificate'],
          resources: [caArn],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue', 'secretsmanager:TagResource'],
          resources: [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${certificateSecretName(mesh, '*')}*`, arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME })],
        }),
      );
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [this.bucket.arnForObjects(trustBundleKey(mesh))] }));
      // Certificate sync learns the mesh's nodes from the published configs and the task registry.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${mesh}/nodes/*`), this.bucket.arnForObjects(taskRegistryKey(mesh))] }));
      // It lists the trust bundle and registry keys themselves before reading them (see lambda/certificates/sync.ts).
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [this.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${mesh}/nodes/*`, trustBundleKey(mesh), taskRegistryKey(mesh)] } },
        }),
      );
      acknowledgeNag(fn, [
        [
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${certificateSecretName(mesh, '*')}*]`,
          'Certificate sync creates and rotates one secret per node of this mesh, under the mesh prefix only',
        ],
        ...(props.configBucket
          ? []
          : ([[`AwsSolutions-IAM5[Resource::${nagRef(this.bucket, 'Arn')}/${mesh}/nodes/*]`, 'Certificate sync reads the published node configs of this mesh to learn which identities to issue']] as const)),
      ]);
      if (activation) fn.node.addDependency(activation);
      new events.Rule(this, 'CertificateSyncSchedule', {
        description: `Weft mesh ${mesh}: certificate renewal check`,
        schedule: events.Schedule.rate(props.certificateSyncInterval ?? cdk.Duration.hours(1)),
        targets: [new targets.LambdaFunction(fn)],
      });
      // Sidecars of new nodes cannot start without a certificate: run certificate sync as soon as
      // configs are published (asynchronously, so a slow CA does not hold the deployment) rather
      // than at the next scheduled tick. The payload changes whenever the set of node configs does.
      const kick = new cr.AwsCustomResource(this, 'CertificateSyncAfterPublish', {
        onUpdate: {
          service: 'Lambda',
          action: 'invoke',
          parameters: {
            FunctionName: fn.functionName,
            InvocationType: 'Event',
            Payload: cdk.Lazy.string({ produce: () => JSON.stringify({ 'detail-type': 'Weft Config Published', nodes: this.publishedVersions() }) }),
          },
          physicalResourceId: cr.PhysicalResourceId.of(`weft-${mesh}-certificate-sync`),
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] })]),
        installLatestAwsSdk: false,
      });
      kick.node.addDependency(this.configPublish);
      // The AwsCustomResource function is a per-stack singleton the construct creates next to the stack's root.
      const singleton = stack.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
      if (singleton) acknowledgeNag(singleton, [[LAMBDA_BASIC_EXECUTION, 'The aws-cdk-lib AwsCustomResource function uses the AWS managed basic execution role for its log writes']]);
      if (activation) kick.node.addDependency(activation);
      this.certificateSync = fn;
    }
  }

  /** The Cloud Map service `name` in the mesh's namespace; one per name. */
  /**
   * Discovery sync's Cloud Map grant names the services of the nodes that run tasks, one ARN each
   * (`service/<id>`): RegisterInstance, DeregisterInstance, GetInstance and ListInstances all
   * take the `service` resource type (arn:${Partition}:servicediscovery:${Region}:${Account}:service/${ServiceId})
   * in the Service Authorization Reference's Cloud Map table. The statement is added with the
   * first node and lists every node added later (the resources are rendered at synth).
   */
  allowRegistration(serviceId: string): void {
    if (this.registrationServices.size === 0) {
      const stack = cdk.Stack.of(this);
      this.discoverySync.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['servicediscovery:RegisterInstance', 'servicediscovery:DeregisterInstance', 'servicediscovery:ListInstances', 'servicediscovery:GetInstance'],
          resources: cdk.Lazy.list({ produce: () => [...this.registrationServices].map((id) => stack.formatArn({ service: 'servicediscovery', resource: 'service', resourceName: id })) }),
        }),
      );
    }
    this.registrationServices.add(serviceId);
  }

  cloudMapService(name: string): cloudmap.IService {
    let service = this.services.get(name);
    if (!service) {
      service = new cloudmap.Service(this, `CloudMapService-${name}`, {
        namespace: this.namespace,
        name,
        description: `Weft mesh ${this.props.meshName}: ${name}`,
        // Sidecars set their task's status from their local app's health check. Cloud Map cannot
        // add this to an existing service (docs/migrating-from-app-mesh.md).
        customHealthCheck: {},
        ...(this.namespace.type === cloudmap.NamespaceType.HTTP ? {} : { dnsRecordType: cloudmap.DnsRecordType.A }),
      });
      this.services.set(name, service);
    }
    return service;
  }

  /** `<node>@<version>` of every compiled config: changes when any node's config does. */
  private publishedVersions(): string[] {
    return this.props.compile().configs.map((c) => `${c.node.name}@${c.version}`);
  }

  private taskRegistry(): TaskRegistry {
    const families: Record<string, TaskRegistryEntry> = {};
    for (const [family, { entry }] of this.props.taskFamilies()) families[family] = entry();
    return { schema: TASK_REGISTRY_SCHEMA, families };
  }

  private controller(id: string, name: string, description: string): nodejs.NodejsFunction {
    const fn = new nodejs.NodejsFunction(this, id, {
      description: `${description} (mesh ${this.props.meshName})`,
      entry: path.join(this.root, 'lambda', name, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: cdk.Duration.minutes(2),
      projectRoot: this.root,
      depsLockFilePath: path.join(this.root, 'package-lock.json'),
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: cdk.RemovalPolicy.DESTROY }),
      bundling: { target: 'node22', minify: true, sourceMap: true },
      environment: {
        [CONTROLLER_ENV.mesh]: this.props.meshName,
        [CONTROLLER_ENV.bucket]: this.bucket.bucketName,
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    acknowledgeNag(fn, [
      [LAMBDA_BASIC_EXECUTION, 'The managed basic execution role only lets the controller write its own logs'],
      ['AwsSolutions-L1', 'Weft controllers target Node.js 22, the runtime the sidecar image and the contracts are tested on'],
    ]);
    return fn;
  }
}

