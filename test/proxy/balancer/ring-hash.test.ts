import { LoadBalancerSchema } from '../../../proxy/contracts';
import { createBalancer, hashString } from '../../../proxy/balancer';
import { type RingHashBalancer } from '../../../proxy/balancer/ring-hash';
import type { Balancer, PickContext } from '../../../proxy/balancer/balancer';
import { UNHEALTHY_DISCOVERY, type Endpoint } from '../../../proxy/endpoints/endpoint';

/** `healthy: false` sets the discovery bit; `health` sets bits directly. */
function ep(id: string, opts: Partial<Endpoint> & { healthy?: boolean } = {}): Endpoint {
  const { healthy = true, ...rest } = opts;
  return { id, address: '127.0.0.1', port: 9000, zone: undefined, weight: 1, health: healthy ? 0 : UNHEALTHY_DISCOVERY, active: 0, ...rest };
}

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ep(`10.0.0.${i + 1}:8080`));
}

function ringBalancer(key: Record<string, unknown>, eps: Endpoint[], random: () => number = () => 0, ringSize = 1024): Balancer {
  const b = createBalancer(LoadBalancerSchema.parse({ policy: 'CONSISTENT_HASH', consistentHash: key, ringSize }), undefined, random);
  b.update(eps);
  return b;
}

const byHeader = (v: string | string[]): PickContext => ({ headers: { 'x-user': v }, sourceIp: '' });
const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);

function owners(b: Balancer): string[] {
  return keys.map((k) => b.pick(byHeader(k))!.id);
}

describe('CONSISTENT_HASH', () => {
  test('the same key always reaches the same endpoint, whatever the endpoint order', () => {
    const eps = endpoints(5);
    const b = ringBalancer({ header: 'X-User' }, eps);
    const first = owners(b);
    expect(owners(b)).toEqual(first);
    expect(owners(ringBalancer({ header: 'x-user' }, [...eps].reverse()))).toEqual(first);
  });

  test('keys spread over the endpoints', () => {
    const counts = new Map<string, number>();
    for (const id of owners(ringBalancer({ header: 'x-user' }, endpoints(4)))) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBe(4);
    for (const c of counts.values()) {
      expect(c / keys.length).toBeGreaterThan(0.17);
      expect(c / keys.length).toBeLessThan(0.33);
    }
  });

  test('removing one endpoint moves its keys and few others (about 2/n in all)', () => {
    const eps = endpoints(10);
    const before = owners(ringBalancer({ header: 'x-user' }, eps));
    const removed = eps[3].id;
    const after = owners(ringBalancer({ header: 'x-user' }, eps.filter((e) => e.id !== removed)));
    let owned = 0;
    let moved = 0;
    for (let i = 0; i < keys.length; i++) {
      if (before[i] === removed) {
        owned++;
        expect(after[i]).not.toBe(removed);
      } else if (after[i] !== before[i]) moved++;
    }
    expect(owned / keys.length).toBeGreaterThan(0.05);
    expect(moved / keys.length).toBeLessThan(0.12);
  });

  test('the ring has ringSize points, shared by weight', () => {
    const b = ringBalancer({ header: 'x-user' }, endpoints(3), () => 0, 1000) as RingHashBalancer;
    expect(b.ringPoints).toBe(999);
    const weighted = ringBalancer({ header: 'x-user' }, [ep('a', { weight: 3 }), ep('b')]);
    const share = owners(weighted).filter((id) => id === 'a').length / keys.length;
    expect(share).toBeGreaterThan(0.68);
    expect(share).toBeLessThan(0.82);
  });

  test('unhealthy endpoints leave the ring on update', () => {
    const eps = endpoints(6);
    const b = ringBalancer({ header: 'x-user' }, eps);
    const before = owners(b);
    eps[2].health = UNHEALTHY_DISCOVERY;
    b.update(eps);
    const after = owners(b);
    expect(after).not.toContain(eps[2].id);
    const moved = after.filter((id, i) => before[i] !== eps[2].id && id !== before[i]).length;
    expect(moved / keys.length).toBeLessThan(0.2);
  });

  test('a multi-valued header hashes as its values joined with ","', () => {
    const b = ringBalancer({ header: 'x-user' }, endpoints(16));
    for (let i = 0; i < 50; i++) expect(b.pick(byHeader([`a${i}`, 'b']))).toBe(b.pick(byHeader(`a${i},b`)));
  });

  test('cookie key: the named cookie value, not the rest of the header', () => {
    const b = ringBalancer({ cookie: { name: 'session' } }, endpoints(16));
    for (let i = 0; i < 50; i++) {
      const alone = b.pick({ headers: { cookie: `session=s${i}` }, sourceIp: '' });
      expect(b.pick({ headers: { cookie: `theme=dark; session=s${i}; lang=en` }, sourceIp: '' })).toBe(alone);
      expect(b.pick({ headers: { cookie: `xsession=other; session=s${i}` }, sourceIp: '' })).toBe(alone);
    }
    const spread = new Set(Array.from({ length: 200 }, (_, i) => b.pick({ headers: { cookie: `session=s${i}` }, sourceIp: '' })!.id));
    expect(spread.size).toBeGreaterThan(10);
  });

  test('source IP key', () => {
    const b = ringBalancer({ sourceIp: true }, endpoints(8));
    const ips = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    const first = ips.map((ip) => b.pick({ headers: {}, sourceIp: ip })!.id);
    expect(ips.map((ip) => b.pick({ headers: { 'x-user': 'ignored' }, sourceIp: ip })!.id)).toEqual(first);
    expect(new Set(first).size).toBe(8);
  });

  test('a request without the key gets a random endpoint', () => {
    const eps = endpoints(4);
    let r = 0;
    const b = ringBalancer({ header: 'x-user' }, eps, () => r);
    const noKey: PickContext = { headers: {}, sourceIp: '10.0.0.9' };
    expect(b.pick(noKey)).toBe(eps[0]);
    r = 0.99;
    expect(b.pick(noKey)).toBe(eps[3]);
    r = 0.5;
    expect(b.pick({ headers: { cookie: 'other=1' }, sourceIp: '' })).toBe(eps[2]);
    const cookie = ringBalancer({ cookie: { name: 'session' } }, eps, () => 0.3);
    expect(cookie.pick({ headers: { cookie: 'other=1' }, sourceIp: '' })).toBe(eps[1]);
  });

  test('hashString is stable and spreads similar strings', () => {
    expect(hashString('abc')).toBe(hashString('abc'));
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16000; i++) buckets[hashString(`host_${i}`) >>> 28]++;
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });
});
