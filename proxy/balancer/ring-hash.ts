/**
 * Consistent hashing on a ring (Envoy's ring hash, Istio `consistentHash`): the same key reaches the
 * same endpoint while the endpoint set is unchanged, and removing one endpoint moves only the keys
 * it owned.
 */
import type { LoadBalancer } from '../contracts/node-config';
import type { Endpoint } from '../endpoints/endpoint';
import type { PickContext } from './balancer';
import { HASH_SEED, hashFinish, hashString, hashUpdate, hashUpdateChar } from './hash';
import { CandidateBalancer, cumulativeOf, weightedIndex } from './policies';
import type { ZoneAware } from './candidates';

type HashKey = NonNullable<LoadBalancer['consistentHash']>;

const KEY_HEADER = 0;
const KEY_COOKIE = 1;
const KEY_SOURCE_IP = 2;

/**
 * The ring has `ringSize` points shared by weight (Envoy's ring hash; each endpoint gets at least
 * one). A point's position depends only on its endpoint's id and index, never on the other
 * endpoints, so all sidecars that see the same endpoints build the same ring, and removing one of
 * n endpoints moves its own keys plus about as many again (the survivors' extra points), ~2/n.
 *
 * A request without the hash key (no header, cookie or source address) gets a weighted random
 * endpoint.
 */
export class RingHashBalancer extends CandidateBalancer {
  private readonly keyKind: number;
  private readonly keyName: string;
  private ringHashes: Uint32Array = new Uint32Array(0);
  private ringOwners: Int32Array = new Int32Array(0);
  private cumulative: Float64Array = new Float64Array(0);

  constructor(
    key: HashKey,
    private readonly ringSize: number,
    zoneAware: ZoneAware | undefined,
    localZone: string | undefined,
    random: () => number,
  ) {
    super(zoneAware, localZone, random);
    if ('header' in key) {
      this.keyKind = KEY_HEADER;
      this.keyName = key.header.toLowerCase();
    } else if ('cookie' in key) {
      this.keyKind = KEY_COOKIE;
      this.keyName = key.cookie.name;
    } else {
      this.keyKind = KEY_SOURCE_IP;
      this.keyName = '';
    }
  }

  protected rebuild(): void {
    const n = this.candidates.length;
    this.cumulative = cumulativeOf(this.weights);
    if (n === 0) {
      this.ringHashes = new Uint32Array(0);
      this.ringOwners = new Int32Array(0);
      return;
    }
    const perUnit = this.ringSize / this.totalWeight;
    const points: { hash: number; owner: number; id: string }[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.candidates[i].id;
      const count = Math.max(1, Math.round(this.weights[i] * perUnit));
      for (let k = 0; k < count; k++) points.push({ hash: hashString(`${id}_${k}`), owner: i, id });
    }
    // Ties broken by id so the ring does not depend on the order endpoints were listed in.
    points.sort((a, b) => a.hash - b.hash || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.ringHashes = new Uint32Array(points.length);
    this.ringOwners = new Int32Array(points.length);
    for (let p = 0; p < points.length; p++) {
      this.ringHashes[p] = points[p].hash;
      this.ringOwners[p] = points[p].owner;
    }
  }

  /** Number of points on the ring (for tests and the admin page). */
  get ringPoints(): number {
    return this.ringHashes.length;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const n = this.candidates.length;
    if (n === 0) return undefined;
    const h = this.keyHash(ctx);
    if (h < 0) return this.candidates[this.uniform ? this.randomIndex(n) : weightedIndex(this.cumulative, this.random() * this.totalWeight)];
    return this.candidates[this.ringOwners[this.ringIndex(h)]];
  }

  /** First ring point at or after `h`, wrapping around. */
  private ringIndex(h: number): number {
    const ring = this.ringHashes;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === ring.length ? 0 : lo;
  }

  /** The request's key hash, or -1 when the request has no key. */
  private keyHash(ctx: PickContext): number {
    switch (this.keyKind) {
      case KEY_HEADER: {
        const v = ctx.headers[this.keyName];
        if (v === undefined) return -1;
        if (typeof v === 'string') return hashFinish(hashUpdate(HASH_SEED, v, 0, v.length));
        if (v.length === 0) return -1;
        // Hash the values as if joined with ',' (as header matching sees them) without joining.
        let state = HASH_SEED;
        for (let i = 0; i < v.length; i++) {
          if (i > 0) state = hashUpdateChar(state, 44);
          state = hashUpdate(state, v[i], 0, v[i].length);
        }
        return hashFinish(state);
      }
      case KEY_COOKIE: {
        const cookie = ctx.headers.cookie;
        return typeof cookie === 'string' ? cookieHash(cookie, this.keyName) : -1;
      }
      default: {
        const ip = ctx.sourceIp;
        return ip.length > 0 ? hashFinish(hashUpdate(HASH_SEED, ip, 0, ip.length)) : -1;
      }
    }
  }
}

/** Hash of the value of cookie `name` in a `Cookie` header (`a=1; b=2`), or -1 when absent. */
function cookieHash(header: string, name: string): number {
  const len = header.length;
  let i = 0;
  while (i < len) {
    while (i < len && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = len;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 61 /* = */) {
      return hashFinish(hashUpdate(HASH_SEED, header, i + name.length + 1, end));
    }
    i = end + 1;
  }
  return -1;
}
