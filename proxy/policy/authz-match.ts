/**
 * The matchers an authorization policy compiles to, built once per config: Istio's string
 * patterns (exact, `*` alone for presence, `*` prefix, `*` suffix) and CIDR sets. Matching a
 * request against them allocates nothing: a string matcher compares in place, and an IPv4 address
 * (also as `::ffff:a.b.c.d`, as a dual-stack socket reports it) is read into a number and looked
 * up in sorted, merged ranges. IPv6 addresses go to Node's native `BlockList`.
 */
import { BlockList } from 'node:net';
import { parseCidr } from '../contracts/authz-rules';

const EXACT = 0;
const ANY = 1;
const PREFIX = 2;
const SUFFIX = 3;

/** One compiled Istio pattern. */
interface Pattern {
  kind: typeof EXACT | typeof ANY | typeof PREFIX | typeof SUFFIX;
  text: string;
}

function compilePattern(value: string, fold: boolean): Pattern {
  const v = fold ? value.toLowerCase() : value;
  if (v === '*') return { kind: ANY, text: '' };
  if (v.endsWith('*')) return { kind: PREFIX, text: v.slice(0, -1) };
  if (v.startsWith('*')) return { kind: SUFFIX, text: v.slice(1) };
  return { kind: EXACT, text: v };
}

/** A list of Istio patterns, matched as any-of. */
export class StringSet {
  private readonly patterns: Pattern[];

  /** `fold`: case-insensitive (hosts); the value is then expected lowercase. */
  constructor(values: readonly string[], fold = false) {
    this.patterns = values.map((v) => compilePattern(v, fold));
  }

  /** True when `value` matches a pattern. An absent value matches none: `*` is presence. */
  has(value: string | undefined): boolean {
    if (value === undefined) return false;
    const patterns = this.patterns;
    for (let i = 0; i < patterns.length; i++) {
      const p = patterns[i];
      switch (p.kind) {
        case EXACT:
          if (value === p.text) return true;
          break;
        case ANY:
          if (value.length > 0) return true;
          break;
        case PREFIX:
          if (value.startsWith(p.text)) return true;
          break;
        case SUFFIX:
          if (value.endsWith(p.text)) return true;
          break;
      }
    }
    return false;
  }
}

/** IPv4 `text` from `start` as an unsigned 32-bit number, or -1; no allocation. */
export function ipv4At(text: string, start: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** The IPv4 number of `address`, reading `::ffff:a.b.c.d` as its IPv4 address; -1 when not IPv4. */
export function ipv4Of(address: string): number {
  if (address.length > 7 && address.charCodeAt(0) === 58 /* : */ && address.startsWith('::ffff:') && address.indexOf('.') > 0) return ipv4At(address, 7);
  return ipv4At(address, 0);
}

/** A set of CIDRs (v4 and v6). */
export class CidrSet {
  /** Merged IPv4 ranges, sorted: starts[i]..ends[i] inclusive. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly v6: BlockList | undefined;

  /** `cidrs` were checked by the contract (authorizationIssues). */
  constructor(cidrs: readonly string[]) {
    const ranges: [number, number][] = [];
    let v6: BlockList | undefined;
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (cidr === undefined) throw new Error(`'${text}' is not an IPv4 or IPv6 address or CIDR`);
      if (cidr.family === 4) {
        const size = 2 ** (32 - cidr.prefix);
        const start = Math.floor(ipv4At(cidr.address, 0) / size) * size;
        ranges.push([start, start + size - 1]);
      } else {
        v6 ??= new BlockList();
        v6.addSubnet(cidr.address, cidr.prefix, 'ipv6');
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (const [s, e] of ranges) {
      const last = this.ends.length - 1;
      if (last >= 0 && s <= this.ends[last] + 1) this.ends[last] = Math.max(this.ends[last], e);
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
    this.v6 = v6;
  }

  has(address: string | undefined): boolean {
    if (address === undefined || address === '') return false;
    const v4 = ipv4Of(address);
    if (v4 >= 0) {
      const starts = this.starts;
      let lo = 0;
      let hi = starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid] <= v4) lo = mid + 1;
        else hi = mid - 1;
      }
      return hi >= 0 && v4 <= this.ends[hi];
    }
    return this.v6 !== undefined && address.includes(':') && this.v6.check(address, 'ipv6');
  }
}
