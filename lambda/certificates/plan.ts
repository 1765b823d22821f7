/**
 * Certificate sync's decisions, free of I/O: which nodes need a first certificate, which need a
 * new one, and which are fine.
 */
import { CERTIFICATE_RENEW_AT_FRACTION } from '../../proxy/contracts';

/** A node that should hold a certificate. */
export interface NodeIdentity {
  node: string;
  spiffeId: string;
}

/** What the node's secret holds now (from its `AWSCURRENT` version). */
export interface ExistingCertificate {
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
  trustBundlePem: string;
}

export type IssueReason = 'missing' | 'unreadable';
export type RenewReason = 'due' | 'expired' | 'identity-changed' | 'trust-bundle-changed';

export interface CertificatePlan {
  issue: (NodeIdentity & { reason: IssueReason })[];
  renew: (NodeIdentity & { reason: RenewReason })[];
  keep: (NodeIdentity & { renewAt: Date })[];
}

/** When a certificate is due for renewal: after {@link CERTIFICATE_RENEW_AT_FRACTION} of its life. */
export function renewAt(cert: Pick<ExistingCertificate, 'notBefore' | 'notAfter'>): Date {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notBefore.getTime() + Math.floor(life * CERTIFICATE_RENEW_AT_FRACTION));
}

/**
 * Plans one run. `existing` maps node name to its current certificate; `null` means a secret
 * exists but could not be parsed. Nodes are deduplicated by name (first wins). Secrets of nodes
 * no longer in `nodes` are left alone: a removed node's running tasks still need them to drain.
 */
export function planCertificates(
  nodes: readonly NodeIdentity[],
  existing: ReadonlyMap<string, ExistingCertificate | null>,
  now: Date,
  trustBundlePem?: string,
): CertificatePlan {
  const plan: CertificatePlan = { issue: [], renew: [], keep: [] };
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.node)) continue;
    seen.add(n.node);
    const identity = { node: n.node, spiffeId: n.spiffeId };
    const cur = existing.get(n.node);
    if (cur === undefined) plan.issue.push({ ...identity, reason: 'missing' });
    else if (cur === null) plan.issue.push({ ...identity, reason: 'unreadable' });
    else if (cur.spiffeId !== n.spiffeId) plan.renew.push({ ...identity, reason: 'identity-changed' });
    else if (now.getTime() >= cur.notAfter.getTime()) plan.renew.push({ ...identity, reason: 'expired' });
    else if (now.getTime() >= renewAt(cur).getTime()) plan.renew.push({ ...identity, reason: 'due' });
    else if (trustBundlePem !== undefined && normalise(trustBundlePem) !== normalise(cur.trustBundlePem)) plan.renew.push({ ...identity, reason: 'trust-bundle-changed' });
    else plan.keep.push({ ...identity, renewAt: renewAt(cur) });
  }
  return plan;
}

function normalise(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}
