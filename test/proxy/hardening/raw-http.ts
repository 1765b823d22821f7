/** Raw HTTP/1.1 over a plain or TLS socket: the exact bytes a probe sends, the exact bytes back. */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface RawReply {
  /** Everything received, latin1. */
  text: string;
  /** The status line's code of the first response, or 0 when none arrived. */
  status: number;
  /** Header fields of the first response, names lower-cased (repeats joined with ', '). */
  headers: Record<string, string>;
  /** What followed the first head. */
  body: string;
  /** The connection closed (by either side) before `quietMs` of silence. */
  closed: boolean;
}

/**
 * Sends `payload` (one write, or several with `gapMs` between them) and collects what comes back
 * until the connection closes, `until(text)` holds, or `quietMs` pass without a byte.
 */
export function rawExchange(
  port: number,
  payload: string | Buffer | (string | Buffer)[],
  opts: { tls?: ConnectionOptions; quietMs?: number; gapMs?: number; until?: (text: string) => boolean } = {},
): Promise<RawReply> {
  const quietMs = opts.quietMs ?? 2_000;
  return new Promise((resolve) => {
    const socket: Socket = opts.tls ? tlsConnect({ host: '127.0.0.1', port, ...opts.tls }) : netConnect({ host: '127.0.0.1', port });
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseReply(text, closed));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), quietMs);
    };
    socket.once(opts.tls ? 'secureConnect' : 'connect', async () => {
      const parts = Array.isArray(payload) ? payload : [payload];
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (opts.gapMs !== undefined) await new Promise((r) => setTimeout(r, opts.gapMs));
        else await new Promise((r) => setImmediate(r));
      }
      // Silence counts from the last byte sent.
      if (!settled) arm();
    });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.until?.(text)) finish(false);
      else if (timer !== undefined) arm();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
  });
}

function parseReply(text: string, closed: boolean): RawReply {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1];
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { text, status: status ? Number(status) : 0, headers, body: end < 0 ? '' : text.slice(end + 4), closed };
}
