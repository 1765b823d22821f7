/**
 * How the sidecar image runs Node: its major version, the V8 flags its entry point passes and the
 * environment it sets. proxy/Dockerfile spells all three out (a test holds them equal) and the
 * benchmark runs the sidecar the same way, so that the figures in docs/performance.md are the
 * image's. Each setting was measured same-run against the default (docs/performance.md).
 */

/** Node major of the sidecar image (`FROM node:<major>-slim`): the newest LTS line, and the fastest one measured. */
export const SIDECAR_NODE_MAJOR = 24;

/**
 * V8 flags of the sidecar process.
 * - A 2 MB semi-space (V8's default is 16 MB): a sidecar allocates almost only short-lived,
 *   request-sized objects, and a small young generation stays cache-warm. Peak RSS under load
 *   ~10 MB lower, no measurable CPU cost.
 * - No Maglev (V8's mid-tier compiler): its code and compiler state cost ~5 MB; a proxy runs the
 *   same few functions for days, and TurboFan optimises them just as well without it (same-run
 *   CPU within noise).
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--no-maglev'];

/**
 * Environment of the sidecar process. One glibc malloc arena instead of one per thread (V8's
 * worker threads each grew their own): ~7 MB less RSS, no measurable CPU cost (V8's heap does not
 * use malloc; only compiler zones and OpenSSL do).
 */
export const SIDECAR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };
