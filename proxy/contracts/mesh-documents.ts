/**
 * The documents other than the node config that parts of Weft hand each other, as zod schemas: the
 * task registry (constructs -> discovery sync), the endpoints file (local mode -> sidecar) and the
 * certificate secret (certificate sync -> sidecar). Their parsers and everything else about where
 * they live are in mesh-layout.ts, which the sidecar imports without this module (see validate.ts).
 */
import { z } from 'zod';
import { CERTIFICATE_SECRET_SCHEMA, ENDPOINTS_FILE_SCHEMA, TASK_REGISTRY_SCHEMA } from './schema-ids';

// --- Task registry: how discovery sync learns which node a task belongs to ---

export const TaskRegistryEntrySchema = z.strictObject({
  mesh: z.string().min(1),
  node: z.string().min(1),
  /** The sidecar's inbound port, written as `AWS_INSTANCE_PORT`. */
  port: z.number().int().min(1).max(65535),
  cloudMap: z.strictObject({
    namespaceName: z.string().min(1),
    serviceName: z.string().min(1),
    serviceId: z.string().min(1),
  }),
  /** The node's own service discovery attributes (e.g. `version`), written verbatim. */
  attributes: z.record(z.string(), z.string()).default({}),
});
/** Written by the constructs (through config publish) to {@link taskRegistryKey}. */
export const TaskRegistrySchema = z.strictObject({
  schema: z.literal(TASK_REGISTRY_SCHEMA),
  /** Keyed by ECS task definition family. Only `awsvpc` task definitions may appear. */
  families: z.record(z.string(), TaskRegistryEntrySchema),
});
export type TaskRegistryEntry = z.infer<typeof TaskRegistryEntrySchema>;
export type TaskRegistry = z.infer<typeof TaskRegistrySchema>;

// --- Endpoints as the sidecar sees them (Cloud Map DiscoverInstances or the local endpoints file) ---

export const EndpointInstanceSchema = z.strictObject({
  instanceId: z.string().min(1),
  attributes: z.record(z.string(), z.string()),
  healthStatus: z.enum(['HEALTHY', 'UNHEALTHY', 'UNKNOWN']).default('HEALTHY'),
});
export type EndpointInstance = z.infer<typeof EndpointInstanceSchema>;

/** Local mode's discovery: Cloud Map-shaped instances keyed by `<namespaceName>/<serviceName>`. */
export const EndpointsFileSchema = z.strictObject({
  schema: z.literal(ENDPOINTS_FILE_SCHEMA),
  services: z.record(z.string().regex(/^[^/]+\/[^/]+$/, 'must be <namespaceName>/<serviceName>'), z.array(EndpointInstanceSchema)),
});
export type EndpointsFile = z.infer<typeof EndpointsFileSchema>;

// --- Certificates ---

/**
 * The SecretString of a node's certificate secret. Written by certificate sync, read by the
 * sidecar's certificate source. The `AWSCURRENT` version is served; the `AWSPREVIOUS` version is
 * kept so peers that have not yet seen a new trust bundle still verify during the overlap.
 */
export const CertificateSecretSchema = z.strictObject({
  schema: z.literal(CERTIFICATE_SECRET_SCHEMA),
  spiffeId: z.string().startsWith('spiffe://'),
  /** PKCS#8 EC P-256 private key. */
  privateKeyPem: z.string().includes('PRIVATE KEY'),
  /** The leaf certificate. */
  certificatePem: z.string().includes('CERTIFICATE'),
  /** Intermediates up to (not including) the root; may be empty. */
  chainPem: z.string(),
  /** Every CA certificate the mesh trusts (roots; during CA rotation, old and new). */
  trustBundlePem: z.string().includes('CERTIFICATE'),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  serial: z.string().min(1),
});
export type CertificateSecret = z.infer<typeof CertificateSecretSchema>;
