/**
 * How the sidecar image runs Node: its major version and the V8 flags its entry point passes.
 * proxy/Dockerfile spells both out (a test holds them equal) and the benchmark runs the sidecar
 * the same way, so that the figures in docs/performance.md are the image's.
 */

/** Node major of the sidecar image (`FROM node:<major>-slim`): the newest LTS line, and the fastest one measured. */
export const SIDECAR_NODE_MAJOR = 24;

/**
 * V8 flags of the sidecar process. A sidecar allocates almost only short-lived objects (one
 * request's worth); a 2 MB semi-space keeps the young generation small and cache-warm. Measured
 * against V8's default (16 MB): peak RSS under load 83 -> 73 MB, and no throughput or CPU cost
 * (docs/performance.md).
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
