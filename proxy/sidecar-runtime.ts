/**
 * How the sidecar image runs Node: its major version, the V8 flags its entry point passes and the
 * environment it sets. proxy/Dockerfile spells all three out (a test holds them equal) and the
 * benchmark runs the sidecar the same way, so that the figures in docs/performance.md are the
 * image's. Each setting was measured against the default; its decision record in docs/decisions/
 * (cited below) has the figures.
 */

/**
 * Node major of the sidecar image (`FROM node:<major>-slim`): an LTS line (to April 2028), faster
 * than 20 and 22. Node 26.12 measured the same per request on the mesh path, so the image stays on
 * 24 (docs/decisions/0009-node-24-image.md).
 */
export const SIDECAR_NODE_MAJOR = 24;

/**
 * V8 flags of the sidecar process.
 * - A 1 MB semi-space (V8's default is 16 MB): a sidecar allocates almost only short-lived,
 *   request-sized objects, and a small young generation stays cache-warm. Peak RSS under load
 *   ~15 MB lower than the default; twice as many scavenges as with 2 MB, each half as long
 *   (docs/decisions/0002-semi-space-1mb.md).
 * - A 32 MB initial old generation: a sidecar's live heap is 10-15 MB, and with V8's limit set
 *   close above that, every moment of extra external memory (socket and TLS buffers) put the
 *   heap under its soft limit, and V8 ran a full incremental mark-compact every 250-700 ms that
 *   freed nothing (20-30 per 8 s at 1,000 req/s: ~25% of the sidecar's CPU and 10-20 ms p99
 *   latency). The old generation's maximum is unchanged; only its starting limit is higher
 *   (docs/decisions/0003-initial-old-space.md).
 * - No Maglev (V8's mid-tier compiler): its code and compiler state cost ~5 MB; a proxy runs the
 *   same few functions for days, and TurboFan optimises them just as well without it (same-run
 *   CPU within noise; docs/decisions/0004-no-maglev.md).
 * - Regexes fall back to V8's linear-time engine after excessive backtracking: route regexes
 *   come from the mesh's configuration but run on request paths and headers a client chooses, so
 *   a regex such as `^(a+)+$` would otherwise let one request hold the event loop for hours. With
 *   the flag that request costs ~2 ms. Regexes that engine cannot run (backreferences,
 *   lookaround) are refused by `weft validate` and the sidecar (proxy/contracts/regex-rules.ts;
 *   docs/decisions/0005-regexp-linear-fallback.md).
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--initial-old-space-size=32',
  '--no-maglev',
  '--enable-experimental-regexp-engine-on-excessive-backtracks',
];

/**
 * Environment of the sidecar process.
 * - jemalloc instead of glibc's malloc (the image installs it as /usr/local/lib/libjemalloc.so.2),
 *   with one arena and a background thread that hands freed pages back to the kernel after a
 *   second. Each TLS connection holds ~60 KB of malloc'd memory (OpenSSL state, Node's TLS
 *   buffers); glibc keeps that resident after the connections close, because live allocations sit
 *   above it: 2,000 idle mTLS connections left an inbound sidecar at 204 MB after they closed and
 *   282 MB after four such rounds, against ~97-99 MB with this setting. CPU per request on the
 *   mesh path and peak RSS under load: the same within the bench's noise
 *   (docs/decisions/0013-jemalloc.md).
 * - MALLOC_ARENA_MAX=1 for glibc, should the preload be missing (the bench on a host without
 *   jemalloc): one malloc arena instead of one per thread, ~7 MB less RSS
 *   (docs/decisions/0006-malloc-arena-max.md).
 */
export const SIDECAR_ENV: Readonly<Record<string, string>> = {
  LD_PRELOAD: '/usr/local/lib/libjemalloc.so.2',
  MALLOC_CONF: 'narenas:1,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0',
  MALLOC_ARENA_MAX: '1',
};
