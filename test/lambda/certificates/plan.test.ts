import { CERTIFICATE_RENEW_AT_FRACTION } from '../../../proxy/contracts';
import { planCertificates, renewAt, type ExistingCertificate } from '../../../lambda/certificates/plan';

const DAY = 86_400_000;
const T0 = new Date('2026-11-01T00:00:00Z');
const BUNDLE = '-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n';
const id = (node: string) => ({ node, spiffeId: `spiffe://shop.local/ns/shop/sa/${node}` });
const cert = (node: string, days = 7, patch: Partial<ExistingCertificate> = {}): ExistingCertificate => ({
  spiffeId: id(node).spiffeId,
  notBefore: T0,
  notAfter: new Date(T0.getTime() + days * DAY),
  trustBundlePem: BUNDLE,
  ...patch,
});
const at = (days: number) => new Date(T0.getTime() + days * DAY);

describe('planCertificates', () => {
  test('renewal is due at two thirds of the lifetime', () => {
    expect(CERTIFICATE_RENEW_AT_FRACTION).toBeCloseTo(2 / 3);
    expect(renewAt(cert('a')).getTime()).toBe(T0.getTime() + Math.floor(7 * DAY * (2 / 3)));
  });

  test.each<[string, ExistingCertificate | null | undefined, Date, string, string | undefined]>([
    ['no secret', undefined, at(0), 'issue', 'missing'],
    ['unreadable secret', null, at(0), 'issue', 'unreadable'],
    ['fresh certificate', cert('a'), at(1), 'keep', undefined],
    ['just before two thirds', cert('a'), new Date(renewAt(cert('a')).getTime() - 1), 'keep', undefined],
    ['at two thirds', cert('a'), renewAt(cert('a')), 'renew', 'due'],
    ['expired', cert('a'), at(8), 'renew', 'expired'],
    ['identity changed (trust domain renamed)', cert('a', 7, { spiffeId: 'spiffe://old/ns/shop/sa/a' }), at(1), 'renew', 'identity-changed'],
    ['trust bundle changed (CA rotated)', cert('a', 7, { trustBundlePem: 'other' }), at(1), 'renew', 'trust-bundle-changed'],
  ])('%s', (_name, existing, now, bucket, reason) => {
    const map = new Map<string, ExistingCertificate | null>();
    if (existing !== undefined) map.set('a', existing);
    const plan = planCertificates([id('a')], map, now, BUNDLE);
    const all = [...plan.issue.map((p) => ['issue', p]), ...plan.renew.map((p) => ['renew', p]), ...plan.keep.map((p) => ['keep', p])] as [string, { node: string; reason?: string }][];
    expect(all).toHaveLength(1);
    expect(all[0][0]).toBe(bucket);
    expect(all[0][1].node).toBe('a');
    expect(all[0][1].reason).toBe(reason);
  });

  test('duplicate nodes are planned once; secrets of removed nodes are not touched', () => {
    const plan = planCertificates([id('a'), id('a'), id('b')], new Map([['gone', cert('gone')]]), at(0));
    expect(plan.issue.map((p) => p.node)).toEqual(['a', 'b']);
    expect(plan.renew).toEqual([]);
    expect(plan.keep).toEqual([]);
  });
});
