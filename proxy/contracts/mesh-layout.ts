/**
 * Names and shapes shared between the constructs, the controllers and the sidecar: where configs
 * live in S3, what a mesh identity looks like, what discovery sync writes to Cloud Map, how a task
 * is mapped to its node, and how a certificate secret is laid out. Local mode uses the same shapes
 * (an endpoints file holds Cloud Map-shaped instances; a certificate directory holds the same PEMs).
 */
import type { CertificateSecret, EndpointsFile, TaskRegistry, TaskRegistryEntry } from './mesh-documents';
import { validateContract } from './validate';
import { ContractError } from './validation';

// --- S3 layout of the config bucket ---

/** Key of one node's compiled config: `<mesh>/nodes/<node>.json`. */
export function nodeConfigKey(mesh: string, node: string): string {
  return `${mesh}/nodes/${node}.json`;
}
/** Key of the mesh trust bundle (PEM, every CA certificate a sidecar of the mesh trusts). */
export function trustBundleKey(mesh: string): string {
  return `${mesh}/trust-bundle.pem`;
}
/** Key of the task registry (see {@link TaskRegistrySchema}). */
export function taskRegistryKey(mesh: string): string {
  return `${mesh}/task-registry.json`;
}

export interface S3Location {
  bucket: string;
  key: string;
}
/** Parses `s3://bucket/key`; returns undefined for anything else (a file path). */
export function parseS3Url(url: string): S3Location | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(url);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

// --- Identity ---

const SPIFFE_RE = /^spiffe:\/\/([a-z0-9._-]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** A node's identity: `spiffe://<trustDomain>/ns/<mesh>/sa/<node>`, its certificate's URI SAN. */
export function spiffeId(trustDomain: string, mesh: string, node: string): string {
  return `spiffe://${trustDomain}/ns/${mesh}/sa/${node}`;
}
export function parseSpiffeId(id: string): { trustDomain: string; mesh: string; node: string } | undefined {
  const m = SPIFFE_RE.exec(id);
  return m ? { trustDomain: m[1], mesh: m[2], node: m[3] } : undefined;
}
/**
 * The trust domain when the mesh sets none: the mesh name lowercased, with characters SPIFFE
 * does not allow in a trust domain replaced by `-`.
 */
export function defaultTrustDomain(mesh: string): string {
  return mesh.toLowerCase().replace(/[^a-z0-9._-]/g, '-');
}

// --- Cloud Map instances written by discovery sync and read by the sidecar ---

export const CLOUD_MAP_ATTRIBUTES = {
  /** The task's ENI address (`awsvpc`). */
  ipv4: 'AWS_INSTANCE_IPV4',
  /** The sidecar's inbound port: peers dial the sidecar, not the app. */
  port: 'AWS_INSTANCE_PORT',
  zone: 'AVAILABILITY_ZONE',
  node: 'WEFT_NODE',
  mesh: 'WEFT_MESH',
  taskArn: 'ECS_TASK_ARN',
  /** ECS `version` of the task state event that produced this registration (stale-event guard). */
  eventVersion: 'WEFT_EVENT_VERSION',
} as const;

/** Cloud Map limits on custom attributes. */
export const CLOUD_MAP_LIMITS = { maxAttributes: 30, maxKeyLength: 255, maxValueLength: 1024, maxTotalLength: 5000 } as const;

/** The Cloud Map instance id of a task: the task id (last part of its ARN). */
export function instanceIdForTask(taskArn: string): string {
  const id = taskArn.slice(taskArn.lastIndexOf('/') + 1);
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new Error(`not an ECS task ARN: ${taskArn}`);
  return id;
}

// --- Task registry: how discovery sync learns which node a task belongs to ---

export function parseTaskRegistry(input: unknown): TaskRegistry {
  return validateContract('taskRegistry', input, 'WEFT_ERR_TASK_REGISTRY_INVALID', 'task registry');
}

/** The Cloud Map attributes of one running task, as discovery sync registers them. */
export function instanceAttributes(
  entry: TaskRegistryEntry,
  task: { taskArn: string; ipv4: string; zone: string; eventVersion?: number },
): Record<string, string> {
  const attrs: Record<string, string> = { ...entry.attributes };
  attrs[CLOUD_MAP_ATTRIBUTES.ipv4] = task.ipv4;
  attrs[CLOUD_MAP_ATTRIBUTES.port] = String(entry.port);
  attrs[CLOUD_MAP_ATTRIBUTES.zone] = task.zone;
  attrs[CLOUD_MAP_ATTRIBUTES.node] = entry.node;
  attrs[CLOUD_MAP_ATTRIBUTES.mesh] = entry.mesh;
  attrs[CLOUD_MAP_ATTRIBUTES.taskArn] = task.taskArn;
  if (task.eventVersion !== undefined) attrs[CLOUD_MAP_ATTRIBUTES.eventVersion] = String(task.eventVersion);
  return attrs;
}

// --- Endpoints as the sidecar sees them (Cloud Map DiscoverInstances or the local endpoints file) ---

export function endpointsFileKey(namespaceName: string, serviceName: string): string {
  return `${namespaceName}/${serviceName}`;
}
export function parseEndpointsFile(input: unknown, source = 'endpoints file'): EndpointsFile {
  return validateContract('endpointsFile', input, 'WEFT_ERR_ENDPOINTS_INVALID', source);
}

// --- Certificates ---

/** Secrets Manager secret name of a node's certificate. */
export function certificateSecretName(mesh: string, node: string): string {
  return `weft/${mesh}/${node}/certificate`;
}

export function parseCertificateSecret(input: unknown, source = 'certificate secret'): CertificateSecret {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new ContractError('WEFT_ERR_CERTIFICATE_INVALID', source, [{ path: '', message: 'not JSON' }]);
    }
  }
  return validateContract('certificateSecret', value, 'WEFT_ERR_CERTIFICATE_INVALID', source);
}

/** Renew when this fraction of the certificate's lifetime has passed. */
export const CERTIFICATE_RENEW_AT_FRACTION = 2 / 3;

/** Local mode and `file:<dir>` certificate source: file names inside the directory. */
export const CERTIFICATE_FILES = {
  privateKey: 'key.pem',
  certificate: 'cert.pem',
  chain: 'chain.pem',
  trustBundle: 'trust-bundle.pem',
} as const;

// --- Control headers between sidecars ---

/**
 * Headers one sidecar sets for another. The inbound sidecar strips every `x-weft-` header from
 * peers it does not trust (no mesh mTLS identity) and from the local app's outbound requests.
 */
export const CONTROL_HEADERS = {
  prefix: 'x-weft-',
  /** Which listener port of the target node a request is for (nodes with several listeners). */
  targetPort: 'x-weft-target-port',
  /** Set on responses refused by a circuit breaker. */
  overloaded: 'x-weft-overloaded',
  /** Error code on responses generated by the sidecar itself. */
  errorCode: 'x-weft-error',
} as const;
