/**
 * Node config fields the sidecar carries but does not apply yet, and how a config that uses them
 * is treated. One table for every part: the model validator (`weft validate`, `weft compile`,
 * `cdk synth`) reports the fields as the user wrote them, the sidecar reports them in the config it
 * loads, and both take the severity and the wording from here.
 *
 * - Warnings: the config runs, without the feature. Fields a user wrote only.
 * - Errors: security policy not enforced yet (none today). Running without it would let in
 *   traffic the policy was written to keep out, so a config with it is refused
 *   ({@link POLICY_NOT_ENFORCED}) until the sidecar enforces it.
 *
 * Like every contract module, this one imports neither aws-cdk-lib nor the AWS SDK, and only
 * types from the schemas, so the sidecar bundle stays free of zod.
 */
import type { NodeConfig, RetryPolicy, Route } from './node-config';
import { ContractError, type ContractIssue } from './validation';

/** The code of a config refused because it carries security policy the sidecar does not enforce yet. */
export const POLICY_NOT_ENFORCED = 'WEFT_ERR_POLICY_NOT_ENFORCED';

export type NotAppliedSeverity = 'warning' | 'error';

/** Each field the sidecar does not apply yet: its severity and what that means for traffic. */
export const FIELDS_NOT_APPLIED = {
  healthCheck: {
    severity: 'warning',
    message: "a gateway's sidecar does not run its listeners' health checks yet (a virtual node's sidecar does check its own app, and callers check virtual node listeners)",
  },
} as const satisfies Record<string, { severity: NotAppliedSeverity; message: string }>;

export type FieldNotApplied = keyof typeof FIELDS_NOT_APPLIED;

/** One field of a document that the sidecar does not apply yet. */
export interface NotAppliedFinding {
  field: FieldNotApplied;
  severity: NotAppliedSeverity;
  /** Field path in the document, e.g. `clusters[2].outlierDetection`. */
  path: string;
  message: string;
}

export function notAppliedFinding(field: FieldNotApplied, path: string): NotAppliedFinding {
  const { severity, message } = FIELDS_NOT_APPLIED[field];
  return { field, severity, path, message };
}

/**
 * The retry policy the compiler writes for a route that states none: 2 retries, each bounded by
 * the route's per-request timeout, on connection failures and refused streams (Istio's default),
 * plus gateway errors for HTTP (App Mesh's) and unavailable/cancelled for gRPC. Written out in
 * full (backoff included), so it is also what the parser makes of it.
 */
export function meshDefaultRetryPolicy(protocol: Route['protocol'], perRequestMs: number): RetryPolicy {
  const base: RetryPolicy = {
    maxRetries: 2,
    perTryTimeoutMs: perRequestMs,
    httpRetryEvents: [],
    tcpRetryEvents: ['connection-error'],
    grpcRetryEvents: [],
    retriableStatusCodes: [],
    backoffBaseMs: 25,
    backoffMaxMs: 250,
  };
  if (protocol === 'http') return { ...base, httpRetryEvents: ['gateway-error', 'stream-error'] };
  if (protocol === 'grpc') return { ...base, httpRetryEvents: ['stream-error'], grpcRetryEvents: ['unavailable', 'cancelled'] };
  return base;
}

/** Every field of `config` that the sidecar does not apply yet, in document order. */
export function fieldsNotApplied(config: NodeConfig): NotAppliedFinding[] {
  const found: NotAppliedFinding[] = [];
  const add = (field: FieldNotApplied, path: string) => found.push(notAppliedFinding(field, path));
  // Security policy (authorization, JWT, rate limits) is all enforced: nothing of it is listed.
  if (config.gateway) {
    config.gateway.listeners.forEach((l, i) => {
      if (l.healthCheck) add('healthCheck', `gateway.listeners[${i}].healthCheck`);
    });
  }
  return found;
}

/**
 * The sidecar's check before it applies `config`: throws a ContractError with code
 * {@link POLICY_NOT_ENFORCED} naming every security field it would not enforce, and otherwise
 * returns the paths of the fields it will run without (to be logged once the config is in force).
 */
export function checkFieldsApplied(config: NodeConfig, source: string): string[] {
  const found = fieldsNotApplied(config);
  const refused: ContractIssue[] = found.filter((f) => f.severity === 'error').map(({ path, message }) => ({ path, message }));
  if (refused.length > 0) throw new ContractError(POLICY_NOT_ENFORCED, source, refused);
  return found.filter((f) => f.severity === 'warning').map((f) => f.path);
}
