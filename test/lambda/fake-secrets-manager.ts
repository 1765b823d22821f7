/**
 * A small in-memory Secrets Manager with version stages, installed behind a real SDK client with
 * aws-sdk-client-mock. Both certificate sync's adapter and the sidecar's secret reader then run
 * their real SDK code against it. Staging follows the service: a new value becomes AWSCURRENT and
 * the version it replaces becomes AWSPREVIOUS; a repeated ClientRequestToken is idempotent.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  type CreateSecretCommandInput,
  type GetSecretValueCommandInput,
  type PutSecretValueCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { mockSdk } from './sdk-mock';

interface Secret {
  versions: Map<string, string>;
  stages: Map<string, string>;
  kmsKeyId?: string;
}

export class FakeSecretsManager {
  readonly client = new SecretsManagerClient({ region: 'eu-west-1' });
  readonly secrets = new Map<string, Secret>();
  readonly calls: string[] = [];
  /** When set, every GetSecretValue fails with it (an outage). */
  failGets?: Error;

  constructor() {
    const mock = mockSdk(this.client);
    mock.on(CreateSecretCommand).callsFake((input: CreateSecretCommandInput) => this.create(input));
    mock.on(PutSecretValueCommand).callsFake((input: PutSecretValueCommandInput) => this.put(input));
    mock.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => this.get(input));
  }

  private notFound(what: string): never {
    throw new ResourceNotFoundException({ message: `Secrets Manager can't find ${what}`, $metadata: { httpStatusCode: 400 } });
  }

  private create(input: CreateSecretCommandInput) {
    this.calls.push(`CreateSecret ${input.Name}`);
    if (this.secrets.has(input.Name!)) throw new ResourceExistsException({ message: 'exists', $metadata: { httpStatusCode: 400 } });
    const id = input.ClientRequestToken ?? randomUUID();
    this.secrets.set(input.Name!, { versions: new Map([[id, input.SecretString!]]), stages: new Map([['AWSCURRENT', id]]), kmsKeyId: input.KmsKeyId });
    return { Name: input.Name, VersionId: id };
  }

  private put(input: PutSecretValueCommandInput) {
    this.calls.push(`PutSecretValue ${input.SecretId}`);
    const secret = this.secrets.get(input.SecretId!) ?? this.notFound(input.SecretId!);
    const id = input.ClientRequestToken ?? randomUUID();
    if (secret.versions.has(id)) return { Name: input.SecretId, VersionId: id };
    secret.versions.set(id, input.SecretString!);
    const current = secret.stages.get('AWSCURRENT');
    if (current) secret.stages.set('AWSPREVIOUS', current);
    secret.stages.set('AWSCURRENT', id);
    return { Name: input.SecretId, VersionId: id };
  }

  private get(input: GetSecretValueCommandInput) {
    const stage = input.VersionStage ?? 'AWSCURRENT';
    this.calls.push(`GetSecretValue ${input.SecretId} ${stage}`);
    if (this.failGets) throw this.failGets;
    const secret = this.secrets.get(input.SecretId!) ?? this.notFound(input.SecretId!);
    const id = secret.stages.get(stage) ?? this.notFound(`${input.SecretId} stage ${stage}`);
    return { Name: input.SecretId, VersionId: id, SecretString: secret.versions.get(id), VersionStages: [stage] };
  }

  /** Overwrites the AWSCURRENT value in place (a corrupted secret). */
  corruptCurrent(name: string, value: string): void {
    const s = this.secrets.get(name)!;
    const id = randomUUID();
    s.versions.set(id, value);
    const current = s.stages.get('AWSCURRENT');
    if (current) s.stages.set('AWSPREVIOUS', current);
    s.stages.set('AWSCURRENT', id);
  }
}
