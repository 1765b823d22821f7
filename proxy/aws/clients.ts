/**
 * AWS clients of the sidecar. Every client honours `AWS_ENDPOINT_URL_<SERVICE>` (then
 * `AWS_ENDPOINT_URL`) so the whole mesh can run against an AWS-compatible endpoint, and has
 * request timeouts so that a black-holed endpoint fails a poll instead of stalling it forever.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type * as SecretsManagerSdk from '@aws-sdk/client-secrets-manager';
import type * as ServiceDiscoverySdk from '@aws-sdk/client-servicediscovery';
import { WeftError } from '../errors';

// The SDK packages are loaded on first use, not imported: a sidecar with a file config, file
// certificates and file discovery never needs them, and once loaded they hold ~14 MB of RSS
// (docs/decisions/0008-aws-sdk-bundle.md). `require` rather than `import()` because the factories
// (and the config and certificate source factories that call them) are synchronous, and with
// literal names so that bundlers still see the dependencies (the sidecar image bundles them).
//
// The sidecar bundle carries only the exports listed in sdk-exports.json (scripts/build.mjs), so
// that the bundler drops every other command and its serializers (with one copy of each package
// version: 4.6 -> 1.05 MB of source, ~19 MB less RSS once loaded). The types below allow exactly
// those names; a test holds them to the list.
type S3Exports = Pick<typeof S3Sdk, 'S3Client' | 'GetObjectCommand'>;
type SecretsManagerExports = Pick<typeof SecretsManagerSdk, 'SecretsManagerClient' | 'GetSecretValueCommand'>;
type ServiceDiscoveryExports = Pick<typeof ServiceDiscoverySdk, 'ServiceDiscoveryClient' | 'DiscoverInstancesCommand' | 'DiscoverInstancesRevisionCommand' | 'UpdateInstanceCustomHealthStatusCommand'>;
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading, see above */
/** `@aws-sdk/client-s3`, loaded on the first call. */
export const s3Sdk = (): S3Exports => require('@aws-sdk/client-s3') as S3Exports;
/** `@aws-sdk/client-secrets-manager`, loaded on the first call. */
export const secretsManagerSdk = (): SecretsManagerExports => require('@aws-sdk/client-secrets-manager') as SecretsManagerExports;
/** `@aws-sdk/client-servicediscovery`, loaded on the first call. */
export const serviceDiscoverySdk = (): ServiceDiscoveryExports => require('@aws-sdk/client-servicediscovery') as ServiceDiscoveryExports;
/* eslint-enable @typescript-eslint/no-require-imports */

export const AWS_ENDPOINT_INVALID = 'WEFT_ERR_AWS_ENDPOINT_INVALID';

/** Region used with a custom endpoint when none is configured (a local stand-in does not care). */
const FALLBACK_REGION = 'us-east-1';

const CONNECTION_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface AwsClientOptions {
  /** The `region` setting; falls back to `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the SDK's chain. */
  region?: string;
  /** Where to read `AWS_ENDPOINT_URL*` and the region from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: the SDK's chain (the ECS task role on ECS). */
  credentials?: ServiceDiscoverySdk.ServiceDiscoveryClientConfig['credentials'];
}

/**
 * The custom endpoint for a service, as the AWS SDKs define it: `AWS_ENDPOINT_URL_<SERVICE_ID>`
 * (the service id upper-cased, spaces as `_`, e.g. `SERVICEDISCOVERY`, `S3`, `SECRETS_MANAGER`)
 * beats `AWS_ENDPOINT_URL`; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns both off.
 * Throws a coded error naming the variable when the value is not an http(s) URL.
 */
export function customEndpoint(serviceId: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return undefined;
  const specific = `AWS_ENDPOINT_URL_${serviceId.toUpperCase().replace(/[\s-]+/g, '_')}`;
  for (const name of [specific, 'AWS_ENDPOINT_URL']) {
    const value = env[name]?.trim();
    if (!value) continue;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new WeftError(AWS_ENDPOINT_INVALID, `${name}: expected an http(s) URL such as http://127.0.0.1:4566, got: ${JSON.stringify(value)}`);
    }
    return value;
  }
  return undefined;
}

function baseConfig(serviceId: string, opts: AwsClientOptions) {
  const env = opts.env ?? process.env;
  const endpoint = customEndpoint(serviceId, env);
  const region = opts.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? FALLBACK_REGION : undefined);
  return {
    endpoint,
    config: {
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    },
  };
}

/**
 * Cloud Map's client. DiscoverInstances and DiscoverInstancesRevision are modelled with the host
 * prefix `data-`, which would turn a custom endpoint such as `http://127.0.0.1:4566` into
 * `data-127.0.0.1`; with a custom endpoint the prefix is off. The SDK does not retry: the
 * endpoint source's own backoff decides, and Cloud Map's throttle is per account, so SDK retries
 * would multiply the calls of every sidecar exactly when the account is over its budget.
 */
export function createServiceDiscoveryClient(opts: AwsClientOptions = {}): ServiceDiscoverySdk.ServiceDiscoveryClient {
  return lazyServiceDiscoveryClient(opts)();
}

/**
 * {@link createServiceDiscoveryClient} in two steps: the settings are checked now, so a bad
 * `AWS_ENDPOINT_URL*` fails at startup; the SDK is loaded and the client built on the first call
 * (the sidecar's Cloud Map source exists by default, but only clusters with Cloud Map discovery
 * need a client). Later calls return the same client.
 */
export function lazyServiceDiscoveryClient(opts: AwsClientOptions = {}): () => ServiceDiscoverySdk.ServiceDiscoveryClient {
  const { endpoint, config } = baseConfig('ServiceDiscovery', opts);
  let client: ServiceDiscoverySdk.ServiceDiscoveryClient | undefined;
  return () => {
    const { ServiceDiscoveryClient } = serviceDiscoverySdk();
    client ??= new ServiceDiscoveryClient({ ...config, maxAttempts: 1, ...(endpoint ? { disableHostPrefix: true } : {}) });
    return client;
  };
}

/**
 * S3's client. With a custom endpoint, requests are path-style (`<endpoint>/<bucket>/<key>`):
 * local stand-ins and IP endpoints have no per-bucket host names.
 */
export function createS3Client(opts: AwsClientOptions = {}): S3Sdk.S3Client {
  const { endpoint, config } = baseConfig('S3', opts);
  const { S3Client } = s3Sdk();
  return new S3Client({ ...config, ...(endpoint ? { forcePathStyle: true } : {}) });
}

/**
 * Secrets Manager's client (the sidecar's `secretsmanager:` certificate source). The secret
 * reader keeps the last good certificate when a poll fails, so SDK retries only delay the next
 * poll's answer; two attempts cover a dropped connection.
 */
export function createSecretsManagerClient(opts: AwsClientOptions = {}): SecretsManagerSdk.SecretsManagerClient {
  const { config } = baseConfig('Secrets Manager', opts);
  const { SecretsManagerClient } = secretsManagerSdk();
  return new SecretsManagerClient({ ...config, maxAttempts: 2 });
}
