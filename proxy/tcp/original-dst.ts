/**
 * The destination a connection had before iptables REDIRECT sent it to this sidecar, read with
 * getsockopt(SOL_IP, SO_ORIGINAL_DST) by the optional native addon in native/original-dst. Node
 * has no API for it; without the addon transparent HTTP still routes by Host and TLS by SNI, but
 * plain TCP cannot be routed and is refused (`WEFT_ERR_ORIGINAL_DST_UNAVAILABLE`).
 *
 * Why reading `socket._handle.fd` is safe: on Linux a TCP socket's handle is a libuv `uv_tcp_t`
 * whose `fd` getter is `uv_fileno`, the kernel descriptor itself. It is read synchronously while
 * the socket is open (so the descriptor cannot be closed and reused under us), getsockopt only
 * reads conntrack's NAT record and changes no socket state, and the descriptor is never closed or
 * kept. A handle without a descriptor (closed socket, a TLS or HTTP/2 wrapper, another platform)
 * reports -1 or no `fd`, and the lookup answers undefined.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';

export interface OriginalDestination {
  address: string;
  port: number;
  family: 4 | 6;
}

interface Addon {
  getOriginalDst(fd: number): OriginalDestination;
}

/** Environment variable naming the addon file explicitly (e.g. in a container image). */
export const ORIGINAL_DST_ADDON_ENV = 'WEFT_ORIGINAL_DST_ADDON';
const ADDON_FILE = 'original_dst.node';

let addon: Addon | null | undefined;
let loadError: string | undefined;

/** Where the addon is looked for: the env override, the source tree, the bundle's directory. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const built = join('native', 'original-dst', 'build', 'Release', ADDON_FILE);
  return [
    env[ORIGINAL_DST_ADDON_ENV],
    join(__dirname, '..', '..', built), // proxy/transparent/ in the source tree (tests, ts-node)
    join(__dirname, '..', built), // dist/weft.js bundle next to native/
    join(__dirname, ADDON_FILE), // copied next to the bundle (container image)
  ].filter((p): p is string => typeof p === 'string' && p !== '');
}

function load(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const tried: string[] = [];
  for (const file of addonCandidates()) {
    if (!existsSync(file)) {
      tried.push(`${file} (missing)`);
      continue;
    }
    try {
      const mod = { exports: {} as Partial<Addon> };
      process.dlopen(mod, file);
      if (typeof mod.exports.getOriginalDst === 'function') {
        addon = mod.exports as Addon;
        return addon;
      }
      tried.push(`${file} (no getOriginalDst export)`);
    } catch (err) {
      tried.push(`${file} (${(err as Error).message})`);
    }
  }
  loadError = `native addon not loaded; tried: ${tried.join('; ')}`;
  return addon;
}

/** True when the native addon is loaded (it is loaded on first use). */
export function originalDstAvailable(): boolean {
  return load() !== null;
}

/** Why the addon is unavailable (for the log line), or undefined when it is loaded. */
export function originalDstUnavailableReason(): string | undefined {
  load();
  return loadError;
}

/**
 * The pre-REDIRECT destination of an accepted TCP socket; undefined when the addon is missing,
 * the connection was not redirected, or the socket has no descriptor.
 */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  const lib = load();
  if (lib === null) return undefined;
  const fd = (socket as Socket & { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  let dst: OriginalDestination;
  try {
    dst = lib.getOriginalDst(fd);
  } catch {
    // ENOENT: conntrack has no record of the connection.
    return undefined;
  }
  // With conntrack loaded, a connection made straight to this port reports itself.
  if (dst.port === socket.localPort && stripMapped(dst.address) === stripMapped(socket.localAddress ?? '')) return undefined;
  return { address: stripMapped(dst.address), port: dst.port, family: dst.family };
}

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
