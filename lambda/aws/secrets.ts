/**
 * Certificate secrets in Secrets Manager. The only controller module that imports the Secrets
 * Manager SDK. Writing a new value with PutSecretValue moves `AWSCURRENT` to it and the version
 * it replaced to `AWSPREVIOUS`, which is the overlap the sidecars rely on during rotation.
 */
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { withRetry, type RetryOptions } from '../shared/retry';
import { clientOptions } from './client-config';

export type VersionStage = 'AWSCURRENT' | 'AWSPREVIOUS';

/** Port of the secret store for certificate sync. */
export interface SecretStore {
  /** `undefined` when the secret, or that stage of it, does not exist. */
  get(name: string, stage: VersionStage): Promise<{ value: string; versionId: string } | undefined>;
  /**
   * Makes `value` the secret's `AWSCURRENT` version, creating the secret if needed. `token`
   * identifies this value, so a retried write does not create a second version.
   */
  put(name: string, value: string, token: string): Promise<{ versionId: string }>;
}

let sharedClient: SecretsManagerClient | undefined;
/** The container's Secrets Manager client, created on first use and reused across invocations. */
export function secretsClient(): SecretsManagerClient {
  sharedClient ??= new SecretsManagerClient(clientOptions('secretsmanager'));
  return sharedClient;
}

function isNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ResourceNotFoundException';
}

export interface SecretStoreOptions {
  /** KMS key for new secrets (`CreateSecret` only; existing secrets keep theirs). */
  kmsKeyId?: string;
  /** Tags for new secrets, e.g. `weft:mesh`, so IAM conditions can scope the sidecars' access. */
  tags?: Record<string, string>;
  retry?: RetryOptions;
}

/** The Secrets Manager implementation of {@link SecretStore}. */
export function createSecretStore(client: SecretsManagerClient = secretsClient(), options: SecretStoreOptions = {}): SecretStore {
  const retry = options.retry ?? {};
  return {
    async get(name, stage) {
      try {
        const out = await withRetry('secretsmanager:GetSecretValue', () => client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: stage })), retry);
        if (out.SecretString === undefined || out.VersionId === undefined) return undefined;
        return { value: out.SecretString, versionId: out.VersionId };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async put(name, value, token) {
      try {
        const out = await withRetry(
          'secretsmanager:PutSecretValue',
          () => client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value, ClientRequestToken: token })),
          retry,
        );
        return { versionId: out.VersionId ?? token };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const tags = Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
      const create = () => withRetry(
        'secretsmanager:CreateSecret',
        () =>
          client.send(
            new CreateSecretCommand({
              Name: name,
              SecretString: value,
              ClientRequestToken: token,
              KmsKeyId: options.kmsKeyId,
              Description: 'Weft mesh certificate (managed by certificate sync)',
              Tags: tags.length > 0 ? tags : undefined,
            }),
          ),
        retry,
      );
      try {
        const out = await create();
        return { versionId: out.VersionId ?? token };
      } catch (err) {
        // Another run created it between our two calls: write the value as a new version instead.
        if ((err as { name?: string })?.name !== 'ResourceExistsException') throw err;
        const out = await withRetry(
          'secretsmanager:PutSecretValue',
          () => client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value, ClientRequestToken: token })),
          retry,
        );
        return { versionId: out.VersionId ?? token };
      }
    },
  };
}
