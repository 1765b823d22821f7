/**
 * The contract between a listener and the byte-stream handlers: a listener offers each
 * connection to its divert before treating it as HTTP, once at accept and once with the first
 * bytes. A divert that returns true owns the socket from then on (the listener still tracks it
 * for drain and close).
 */
import type { Socket } from 'node:net';

export interface ConnectionDivert {
  /**
   * Before any byte is read. Taking the socket here serves protocols where the server speaks
   * first (the client would never send the bytes a sniffer waits for).
   */
  onAccept(socket: Socket): boolean;
  /**
   * The first bytes the client sent: plaintext from the socket, or with `encrypted` the first
   * bytes after the listener terminated TLS. `first` has been consumed from `socket`: a divert
   * that takes the socket must treat it as the stream's head.
   */
  onFirstBytes(socket: Socket, first: Buffer, encrypted: boolean): boolean;
}

/**
 * True when `first` starts like an HTTP/1.x request line (an upper-case method token then a
 * space) or the HTTP/2 preface (`PRI * HTTP/2.0`). A short chunk that is a token prefix so far
 * counts as HTTP: the HTTP parser then answers, as it would have without a divert.
 */
export function looksLikeHttp(first: Buffer): boolean {
  const n = Math.min(first.length, 16);
  for (let i = 0; i < n; i++) {
    const c = first[i];
    if (c === 0x20) return i >= 3;
    // A-Z, or '-' inside WebDAV-style methods (VERSION-CONTROL).
    if (!((c >= 0x41 && c <= 0x5a) || (c === 0x2d && i > 0))) return false;
  }
  return n < 16;
}

/**
 * Waits for the first chunk of `socket` (bounded by `timeoutMs`, after which the socket is
 * destroyed: nothing else guards a silent connection yet) and passes it to `next`. The chunk is
 * consumed: `next` decides where it goes.
 */
export function readFirstChunk(socket: Socket, timeoutMs: number, next: (first: Buffer) => void): void {
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.once('data', (chunk: Buffer) => {
    socket.setTimeout(0);
    next(chunk);
  });
}
