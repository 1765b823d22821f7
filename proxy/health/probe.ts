/**
 * One probe of the local app, in the check's protocol, on a fresh connection (a probe must see
 * what a new peer connection would see, and must not hold a pooled connection between probes).
 * Resolves undefined when the probe passed, else a short reason. Never rejects.
 *
 * - `http`: GET `path` over HTTP/1.1; a 2xx or 3xx status passes.
 * - `http2`: the same over cleartext HTTP/2 (prior knowledge).
 * - `grpc`: `grpc.health.v1.Health/Check` for the whole server (empty service name); passes on
 *   grpc-status 0 and `SERVING`.
 * - `tcp`: a connection that opens passes.
 */
import { request as httpRequest } from 'node:http';
import { connect as h2Connect, constants as h2 } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import type { HealthCheck } from '../contracts/node-config';

/** An empty `HealthCheckRequest` (service ""), as a gRPC length-prefixed message. */
const GRPC_EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
/** `HealthCheckResponse` with status SERVING: field 1, varint 1 (the message has no other field). */
const SERVING = Buffer.from([0x08, 0x01]);

export function probeOnce(host: string, port: number, check: HealthCheck, timeoutMs: number): Promise<string | undefined> {
  switch (check.protocol) {
    case 'tcp':
      return probeTcp(host, port, timeoutMs);
    case 'http':
      return probeHttp(host, port, check.path, timeoutMs);
    case 'http2':
      return probeH2(host, port, check.path, timeoutMs, false);
    case 'grpc':
      return probeH2(host, port, '/grpc.health.v1.Health/Check', timeoutMs, true);
  }
}

function passes(status: number): boolean {
  return status >= 200 && status < 400;
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (reason: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (reason: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(reason);
    };
    const req = httpRequest({ host, port, path, method: 'GET', agent: false, headers: { host: `${hostPart(host)}:${port}`, 'user-agent': 'weft-health-check', connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(passes(status) ? undefined : `status ${status}`);
    });
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    req.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    req.end();
  });
}

function probeH2(host: string, port: number, path: string, timeoutMs: number, grpc: boolean): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const session = h2Connect(`http://${hostPart(host)}:${port}`);
    const done = (reason: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    session.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    const headers = grpc
      ? { [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'weft-health-check' }
      : { [h2.HTTP2_HEADER_METHOD]: 'GET', [h2.HTTP2_HEADER_PATH]: path, 'user-agent': 'weft-health-check' };
    const stream = session.request(headers, { endStream: !grpc });
    // A stream cancelled by its session's failure carries that failure (e.g. ECONNREFUSED) as cause.
    stream.once('error', (err: NodeJS.ErrnoException) => {
      const cause = err.cause as NodeJS.ErrnoException | undefined;
      done(cause?.code ?? err.code ?? err.message);
    });
    let status = 0;
    let grpcStatus: string | undefined;
    const body: Buffer[] = [];
    let bodyBytes = 0;
    stream.once('response', (h) => {
      status = Number(h[h2.HTTP2_HEADER_STATUS]);
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      if (!grpc) done(passes(status) ? undefined : `status ${status}`);
    });
    stream.on('data', (chunk: Buffer) => {
      // A health response is a few bytes; anything past a small bound is not one.
      if (bodyBytes < 1024) body.push(chunk);
      bodyBytes += chunk.length;
    });
    stream.once('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
    });
    stream.once('end', () => {
      if (!grpc) return done(passes(status) ? undefined : `status ${status}`);
      if (status !== 200) return done(`status ${status}`);
      if (grpcStatus !== '0') return done(`grpc-status ${grpcStatus ?? 'missing'}`);
      const data = Buffer.concat(body);
      // One length-prefixed message whose payload sets status = SERVING.
      const message = data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0);
      done(message.length === SERVING.length && message.equals(SERVING) ? undefined : 'not SERVING');
    });
    if (grpc) stream.end(GRPC_EMPTY_MESSAGE);
    stream.resume();
  });
}
