import {
  spiffeId,
  parseSpiffeId,
  defaultTrustDomain,
  nodeConfigKey,
  parseS3Url,
  instanceIdForTask,
  instanceAttributes,
  parseTaskRegistry,
  parseCertificateSecret,
} from '../../../proxy/contracts';

describe('mesh layout contracts', () => {
  test('SPIFFE ids round-trip', () => {
    const id = spiffeId('prod', 'production-mesh', 'order-service');
    expect(id).toBe('spiffe://prod/ns/production-mesh/sa/order-service');
    expect(parseSpiffeId(id)).toEqual({ trustDomain: 'prod', mesh: 'production-mesh', node: 'order-service' });
    expect(parseSpiffeId('spiffe://prod/x/y')).toBeUndefined();
    expect(defaultTrustDomain('Production Mesh')).toBe('production-mesh');
  });

  test('S3 keys and URLs', () => {
    expect(nodeConfigKey('m', 'n')).toBe('m/nodes/n.json');
    expect(parseS3Url('s3://my-bucket/m/nodes/n.json')).toEqual({ bucket: 'my-bucket', key: 'm/nodes/n.json' });
    expect(parseS3Url('/etc/weft/config.json')).toBeUndefined();
  });

  test('task instances carry the contract attributes plus the node attributes', () => {
    const registry = parseTaskRegistry({
      schema: 'weft.dev/task-registry/v1',
      families: {
        'orders-v2': {
          mesh: 'm',
          node: 'orders-v2',
          port: 15000,
          cloudMap: { namespaceName: 'prod.local', serviceName: 'orders', serviceId: 'srv-1' },
          attributes: { version: 'v2' },
        },
      },
    });
    const arn = 'arn:aws:ecs:eu-west-1:111122223333:task/cluster/0123456789abcdef0123456789abcdef';
    expect(instanceIdForTask(arn)).toBe('0123456789abcdef0123456789abcdef');
    expect(instanceAttributes(registry.families['orders-v2'], { taskArn: arn, ipv4: '10.0.1.5', zone: 'eu-west-1a', eventVersion: 7 })).toEqual({
      version: 'v2',
      AWS_INSTANCE_IPV4: '10.0.1.5',
      AWS_INSTANCE_PORT: '15000',
      AVAILABILITY_ZONE: 'eu-west-1a',
      WEFT_NODE: 'orders-v2',
      WEFT_MESH: 'm',
      ECS_TASK_ARN: arn,
      WEFT_EVENT_VERSION: '7',
    });
  });

  test('a malformed certificate secret names the bad fields', () => {
    expect(() => parseCertificateSecret('{"schema":"weft.dev/certificate/v1","spiffeId":"x"}')).toThrow(/spiffeId/);
    expect(() => parseCertificateSecret('nope')).toThrow(/not JSON/);
  });
});
