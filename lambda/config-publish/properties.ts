/**
 * The custom resource's properties, validated in full before anything is written: every node
 * config with the same `parseNodeConfig` the sidecar runs, and the task registry. All problems are
 * reported at once, each naming the node and the field path.
 */
import { ContractError, parseNodeConfig, parseTaskRegistry, type NodeConfig, type TaskRegistry } from '../../proxy/contracts';
import { WeftLambdaError } from '../shared/errors';

export interface PublishProperties {
  bucket: string;
  mesh: string;
  configs: NodeConfig[];
  registry: TaskRegistry;
}

/** One problem with the properties, e.g. `NodeConfigs[1] (node 'orders').clusters[0].name`. */
export interface PropertyIssue {
  path: string;
  message: string;
}

/**
 * Budget for the error message, which becomes the CloudFormation failure reason. CloudFormation
 * refuses a custom resource response over 4,096 bytes (the stack event then says only "Response
 * object is too long"), and the provider framework adds the log group and a stack trace to it.
 */
export const MAX_REASON_CHARS = 1_500;

function reason(issues: readonly PropertyIssue[]): string {
  const texts = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  let out = '';
  let shown = 0;
  for (const text of texts) {
    const next = out === '' ? text : `${out}; ${text}`;
    if (next.length > MAX_REASON_CHARS) break;
    out = next;
    shown++;
  }
  if (shown === texts.length) return out;
  if (shown === 0) out = `${texts[0].slice(0, MAX_REASON_CHARS - 3)}...`;
  const rest = texts.length - Math.max(shown, 1);
  return rest > 0 ? `${out}; and ${rest} more (every issue is in the config publish log)` : out;
}

/** Thrown for invalid properties; `issues` holds every problem found, the message as many as fit a reason. */
export class PublishPropertiesError extends WeftLambdaError {
  readonly issues: readonly PropertyIssue[];
  constructor(issues: readonly PropertyIssue[]) {
    super('WEFT_ERR_PUBLISH_INVALID', reason(issues));
    this.issues = issues;
  }
}

// CloudFormation turns every scalar in ResourceProperties into a string, so structured values
// arrive as JSON text or as objects whose numbers became strings; JSON text is the safe form.
function decode(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function nodeNameOf(raw: unknown): string | undefined {
  const node = (raw as { node?: { name?: unknown } } | undefined)?.node;
  return typeof node?.name === 'string' ? node.name : undefined;
}

function label(index: number, raw: unknown): string {
  const name = nodeNameOf(raw);
  return name ? `NodeConfigs[${index}] (node '${name}')` : `NodeConfigs[${index}]`;
}

function contractIssues(err: unknown, prefix: string): PropertyIssue[] {
  if (err instanceof ContractError) return err.issues.map((i) => ({ path: i.path ? `${prefix}.${i.path}` : prefix, message: i.message }));
  return [{ path: prefix, message: (err as Error).message }];
}

/** Validates ResourceProperties; throws {@link PublishPropertiesError} listing every issue. */
export function parsePublishProperties(props: Record<string, unknown>): PublishProperties {
  const issues: PropertyIssue[] = [];
  const bucket = props.Bucket;
  const mesh = props.Mesh;
  if (typeof bucket !== 'string' || bucket === '') issues.push({ path: 'Bucket', message: `must be a bucket name, got: ${JSON.stringify(bucket)}` });
  if (typeof mesh !== 'string' || mesh === '') issues.push({ path: 'Mesh', message: `must be a mesh name, got: ${JSON.stringify(mesh)}` });

  const configs: NodeConfig[] = [];
  const rawConfigs = decode(props.NodeConfigs);
  if (!Array.isArray(rawConfigs)) {
    issues.push({ path: 'NodeConfigs', message: `must be an array of node configs, got: ${typeof rawConfigs}` });
  } else {
    const names = new Map<string, number>();
    rawConfigs.forEach((item, i) => {
      const raw = decode(item);
      const where = label(i, raw);
      try {
        const config = parseNodeConfig(raw, where);
        if (typeof mesh === 'string' && config.mesh.name !== mesh) issues.push({ path: `${where}.mesh.name`, message: `must be the published mesh '${mesh}', got: '${config.mesh.name}'` });
        const earlier = names.get(config.node.name);
        if (earlier !== undefined) issues.push({ path: `${where}.node.name`, message: `duplicates NodeConfigs[${earlier}]` });
        else names.set(config.node.name, i);
        configs.push(config);
      } catch (err) {
        issues.push(...contractIssues(err, where));
      }
    });
  }

  let registry: TaskRegistry | undefined;
  try {
    registry = parseTaskRegistry(decode(props.TaskRegistry));
    for (const [family, entry] of Object.entries(registry.families)) {
      if (typeof mesh === 'string' && entry.mesh !== mesh) issues.push({ path: `TaskRegistry.families.${family}.mesh`, message: `must be the published mesh '${mesh}', got: '${entry.mesh}'` });
    }
  } catch (err) {
    issues.push(...contractIssues(err, 'TaskRegistry'));
  }

  if (issues.length > 0 || registry === undefined) throw new PublishPropertiesError(issues);
  return { bucket: bucket as string, mesh: mesh as string, configs, registry };
}

/**
 * The node names of possibly invalid properties, for Delete and for the old side of an Update:
 * cleaning up must not fail because an earlier version of the properties was bad.
 */
export function nodeNamesLenient(props: Record<string, unknown> | undefined): string[] {
  const raw = decode(props?.NodeConfigs);
  if (!Array.isArray(raw)) return [];
  const names = raw.map((item) => nodeNameOf(decode(item))).filter((n): n is string => n !== undefined && n !== '');
  return [...new Set(names)];
}
