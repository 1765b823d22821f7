/**
 * Construct-time report of props the sidecar does not apply yet (lib/model/not-applied.ts): a
 * warning annotation on the construct for each field the sidecar runs without, and an error for
 * security policy, which it refuses until it enforces it.
 */
import * as cdk from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { resourceFieldsNotApplied, type ResourceSpec } from '../model/not-applied';

/**
 * Throws when `resource` (as `construct` renders it) has a rate limit;
 * otherwise warns about each field the sidecar does not apply. Annotations are deduplicated, so a
 * construct that changes (addListener) can be checked again.
 */
export function checkFieldsApplied(construct: IConstruct, resource: ResourceSpec): void {
  const found = resourceFieldsNotApplied(resource);
  const refused = found.filter((f) => f.severity === 'error');
  if (refused.length > 0) throw new Error(`${resource.kind} ${construct.node.path}: ${refused.map((f) => `${f.path}: ${f.message}`).join('; ')}`);
  for (const f of found) cdk.Annotations.of(construct).addWarningV2(`weft:field-not-applied:${f.field}`, `${f.path}: ${f.message}`);
}
