/** Config publish's decisions, free of I/O: which objects to write, which to leave, which to delete. */

/** An object config publish wants in the bucket. */
export interface DesiredObject {
  key: string;
  body: string;
  /** SHA-256 hex of `body`, stored as object metadata to recognise unchanged objects. */
  hash: string;
}

export interface PublishPlan {
  put: DesiredObject[];
  unchanged: string[];
  delete: string[];
}

/**
 * `existing` maps each desired key to the hash its object carries now (`undefined`: absent or
 * written by something else). `previousKeys` are the keys the previous properties published;
 * those no longer desired are deleted.
 */
export function planPublish(desired: readonly DesiredObject[], existing: ReadonlyMap<string, string | undefined>, previousKeys: readonly string[]): PublishPlan {
  const plan: PublishPlan = { put: [], unchanged: [], delete: [] };
  const wanted = new Set<string>();
  for (const obj of desired) {
    if (wanted.has(obj.key)) continue;
    wanted.add(obj.key);
    if (existing.get(obj.key) === obj.hash) plan.unchanged.push(obj.key);
    else plan.put.push(obj);
  }
  for (const key of new Set(previousKeys)) if (!wanted.has(key)) plan.delete.push(key);
  plan.delete.sort();
  return plan;
}
