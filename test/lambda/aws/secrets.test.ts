import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createSecretStore } from '../../../lambda/aws/secrets';
import { awsError, instantRetry } from '../aws-errors';
import { mockSdk } from '../sdk-mock';

const client = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockSdk(client);
beforeEach(() => sm.reset());
const notFound = () => new ResourceNotFoundException({ message: 'no such secret', $metadata: {} });

describe('Secrets Manager adapter', () => {
  test('get asks for the version stage and returns value and version id', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 's', VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: 'old', VersionId: 'v1' });
    expect(await createSecretStore(client).get('s', 'AWSPREVIOUS')).toEqual({ value: 'old', versionId: 'v1' });
  });

  test('a missing secret or stage is undefined', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    expect(await createSecretStore(client).get('s', 'AWSCURRENT')).toBeUndefined();
  });

  test('put writes a new version of an existing secret with the request token', async () => {
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'tok' });
    expect(await createSecretStore(client).put('weft/m/n/certificate', '{}', 'tok')).toEqual({ versionId: 'tok' });
    expect(sm.commandCalls(PutSecretValueCommand)[0].args[0].input).toEqual({ SecretId: 'weft/m/n/certificate', SecretString: '{}', ClientRequestToken: 'tok' });
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  test('put creates a missing secret with the KMS key and tags', async () => {
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: 'tok' });
    await createSecretStore(client, { kmsKeyId: 'alias/weft', tags: { 'weft:mesh': 'm' } }).put('weft/m/n/certificate', '{}', 'tok');
    expect(sm.commandCalls(CreateSecretCommand)[0].args[0].input).toEqual({
      Name: 'weft/m/n/certificate',
      SecretString: '{}',
      ClientRequestToken: 'tok',
      KmsKeyId: 'alias/weft',
      Description: expect.any(String),
      Tags: [{ Key: 'weft:mesh', Value: 'm' }],
    });
  });

  test('a concurrent creation falls back to PutSecretValue', async () => {
    sm.on(PutSecretValueCommand).rejectsOnce(notFound()).resolves({ VersionId: 'tok' });
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    await createSecretStore(client).put('s', '{}', 'tok');
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(2);
  });

  test('throttling is retried', async () => {
    const retry = instantRetry();
    sm.on(GetSecretValueCommand).rejectsOnce(awsError('ThrottlingException')).resolves({ SecretString: 'x', VersionId: 'v' });
    expect(await createSecretStore(client, { retry }).get('s', 'AWSCURRENT')).toEqual({ value: 'x', versionId: 'v' });
    expect(retry.delays).toHaveLength(1);
  });
});
