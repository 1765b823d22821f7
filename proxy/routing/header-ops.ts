/**
 * Route header manipulation (Istio `headers.request` / `headers.response`), applied in place to a
 * header object with lowercased names (Node's and undici's form).
 *
 * Order as Envoy: `remove` first, then `set` (replaces every value), then `add` (appends a value,
 * keeping the existing ones; several values become an array, which Node and undici send as
 * repeated fields).
 */
import type { HeaderOps } from '../contracts/node-config';

type Headers = Record<string, string | string[] | undefined>;

/** Applies a route's request header operations before the request is forwarded. */
export function applyRequestHeaderOps(ops: HeaderOps | undefined, headers: Headers): void {
  if (ops !== undefined) applyHeaderOps(ops, headers);
}

/** Applies a route's response header operations before the response is returned to the caller. */
export function applyResponseHeaderOps(ops: HeaderOps | undefined, headers: Headers): void {
  if (ops !== undefined) applyHeaderOps(ops, headers);
}

function applyHeaderOps(ops: HeaderOps, headers: Headers): void {
  const remove = ops.remove;
  for (let i = 0; i < remove.length; i++) delete headers[remove[i]];
  const set = ops.set;
  for (let i = 0; i < set.length; i++) headers[set[i].name] = set[i].value;
  const add = ops.add;
  for (let i = 0; i < add.length; i++) {
    const { name, value } = add[i];
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (typeof existing === 'string') headers[name] = [existing, value];
    else headers[name] = [...existing, value];
  }
}
