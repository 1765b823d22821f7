/**
 * Turning schema failures into errors a person can act on: every problem at once, each with the
 * field path where it was found. Shared by every contract parser so messages look the same from
 * the CLI, the config publisher and the sidecar.
 */
import { type z } from 'zod';

export interface ContractIssue {
  /** Dotted/bracketed field path, e.g. `clusters[2].discovery.type`; empty for the document root. */
  path: string;
  message: string;
}

export class ContractError extends Error {
  readonly code: string;
  readonly issues: readonly ContractIssue[];

  constructor(code: string, what: string, issues: readonly ContractIssue[]) {
    super(`${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    this.name = 'ContractError';
    this.code = code;
    this.issues = issues;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

export function issuesOf(error: z.ZodError): ContractIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: describeIssue(issue) }));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_union':
      return 'does not match any allowed form';
    default:
      return issue.message;
  }
}

/** Parses `input` with `schema` or throws a {@link ContractError} that lists every issue. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, code: string, what: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ContractError(code, what, issuesOf(result.error));
  return result.data;
}
