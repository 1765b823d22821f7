/**
 * Fields of the model that the sidecar does not apply yet, found where the user wrote them. Which
 * fields, their severity and their wording come from the node config's own table
 * (proxy/contracts/fields-not-applied.ts), so `weft validate`, `cdk synth` and the sidecar agree;
 * only the paths differ (the resource's here, the compiled config's there). The validator turns
 * the errors into validation errors and reports the warnings apart (validate.ts).
 */
import { notAppliedFinding, type FieldNotApplied, type NotAppliedFinding } from '../../proxy/contracts/fields-not-applied';
import type { Resource } from './schema';

/** A resource's kind and spec, kept together so the spec's type follows the kind. */
export type ResourceSpec = Resource extends infer R ? (R extends Resource ? Pick<R, 'kind' | 'spec'> : never) : never;

type Listener = { healthCheck?: { protocol: string; path?: string } };

/**
 * Every field of `resource` the sidecar does not apply yet, with its path in the resource
 * (`spec.listeners[0].healthCheck`) and a message that ends with what was written.
 */
export function resourceFieldsNotApplied(resource: ResourceSpec): NotAppliedFinding[] {
  const found: NotAppliedFinding[] = [];
  const add = (field: FieldNotApplied, path: string, got: string) => {
    const f = notAppliedFinding(field, path);
    found.push({ ...f, message: `${f.message}, got: ${got}` });
  };
  const listeners = (ls: readonly Listener[] | undefined) =>
    (ls ?? []).forEach((l, i) => {
      if (l.healthCheck) add('healthCheck', `spec.listeners[${i}].healthCheck`, [l.healthCheck.protocol, l.healthCheck.path].filter(Boolean).join(' '));
    });
  // A node's listener health checks are applied (its sidecar checks its own app, callers'
  // sidecars check its endpoints); its security policy is enforced. A gateway's listener checks
  // are not run yet.
  if (resource.kind === 'VirtualGateway') listeners(resource.spec.listeners);
  return found;
}
