/**
 * Options every controller AWS client shares. The SDK resolves `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_<SERVICE>` itself (test/lambda/aws/endpoint.test.ts proves it for each client
 * against a real local HTTP server); this module only adds what a custom endpoint additionally
 * needs, and turns the SDK's own retries off because {@link withRetry} is the one retry layer.
 */

/** The `<SERVICE>` part of `AWS_ENDPOINT_URL_<SERVICE>` for each service the controllers call. */
export const ENDPOINT_ENV_SUFFIX = {
  s3: 'S3',
  servicediscovery: 'SERVICEDISCOVERY',
  secretsmanager: 'SECRETS_MANAGER',
  acmpca: 'ACM_PCA',
  ecs: 'ECS',
} as const;
export type AwsService = keyof typeof ENDPOINT_ENV_SUFFIX;

/** The custom endpoint configured for `service`, if any (service-specific beats global). */
export function customEndpoint(service: AwsService, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  const specific = env[`AWS_ENDPOINT_URL_${ENDPOINT_ENV_SUFFIX[service]}`];
  if (specific) return specific;
  return env.AWS_ENDPOINT_URL || undefined;
}

/** Constructor options for the client of `service`. */
export function clientOptions(service: AwsService, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const options: Record<string, unknown> = { maxAttempts: 1 };
  const custom = customEndpoint(service, env);
  // Cloud Map's data-plane calls carry a `data-` host prefix; on a custom endpoint that would turn
  // 127.0.0.1 into data-127.0.0.1, which does not resolve.
  if (custom && service === 'servicediscovery') options.disableHostPrefix = true;
  // AWS-compatible local endpoints serve buckets by path, not by virtual host.
  if (custom && service === 's3') options.forcePathStyle = true;
  return options;
}
