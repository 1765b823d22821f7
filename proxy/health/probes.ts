/**
 * One active health check of one endpoint, in the check's protocol, over the cluster's TLS (the
 * endpoint is a peer sidecar's inbound listener, which takes the same mTLS as traffic). Each check
 * opens its own connection and closes it: a check proves that a new connection can be made, and
 * never shares (or is queued behind) the traffic's pooled connections.
 *
 * Healthy is, as Envoy has it: HTTP and HTTP/2, status 200; gRPC, the `grpc.health.v1.Health/Check`
 * answer SERVING with grpc-status 0; TCP, a connection (and TLS handshake) made.
 */
import { request as httpRequest } from 'node:http';
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HealthCheck } from '../contracts';
import { CONTROL_HEADERS } from '../contracts/mesh-layout';
import { clientConnectOptions, type ClientTlsOptions } from '../tls/tls-options';

export interface ProbeTarget {
  host: string;
  port: number;
  /** HTTP Host / :authority sent with HTTP checks. */
  authority: string;
  path: string;
  tls: ClientTlsOptions | undefined;
  /**
   * The peer sidecar's listener port the check is for (`x-weft-target-port`), sent to mesh peers
   * only, as traffic does: a node with several listeners then checks the right app port.
   */
  targetPort: number | undefined;
}

export interface ProbeResult {
  healthy: boolean;
  /** Why, in a few words (`status 503`, `ECONNREFUSED`, `timeout`), for the admin output. */
  detail: string;
}

/** The gRPC health service's Check method, and an empty HealthCheckRequest (the server's overall health). */
export const GRPC_HEALTH_PATH = '/grpc.health.v1.Health/Check';
const EMPTY_GRPC_MESSAGE = Buffer.alloc(5);
/** HealthCheckResponse.ServingStatus SERVING. */
const SERVING = 1;
/** A health answer is a few bytes: anything past this is not one. */
const MAX_ANSWER_BYTES = 1024;

/**
 * Runs one check; resolves (never rejects) when it is decided, within `timeoutMs`. `signal` aborts
 * it (the endpoint went away, the cluster closed): it then resolves unhealthy and frees its socket.
 */
export function probe(protocol: HealthCheck['protocol'], target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let cleanup: () => void = () => undefined;
    let done = false;
    const finish = (healthy: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cleanup();
      resolve({ healthy, detail });
    };
    const onAbort = () => finish(false, 'aborted');
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) return onAbort();
    const fail = (err: Error) => finish(false, (err as { code?: string }).code ?? err.message);
    switch (protocol) {
      case 'tcp':
        cleanup = tcpProbe(target, finish, fail);
        break;
      case 'http':
        cleanup = httpProbe(target, finish, fail);
        break;
      case 'http2':
      case 'grpc':
        cleanup = h2Probe(protocol, target, finish, fail);
        break;
    }
  });
}

type Finish = (healthy: boolean, detail: string) => void;

function controlHeaders(target: ProbeTarget): Record<string, string> {
  return target.targetPort === undefined ? {} : { [CONTROL_HEADERS.targetPort]: String(target.targetPort) };
}

function connectSocket(target: ProbeTarget, alpn: string[] | undefined): Socket {
  return target.tls
    ? tlsConnect({ host: target.host, port: target.port, ...clientConnectOptions(target.tls), ...(alpn ? { ALPNProtocols: alpn } : {}) })
    : netConnect({ host: target.host, port: target.port });
}

function tcpProbe(target: ProbeTarget, finish: Finish, fail: (err: Error) => void): () => void {
  const socket = connectSocket(target, undefined);
  socket.once(target.tls ? 'secureConnect' : 'connect', () => finish(true, 'connected'));
  socket.once('error', fail);
  return () => socket.destroy();
}

function httpProbe(target: ProbeTarget, finish: Finish, fail: (err: Error) => void): () => void {
  const req = httpRequest({
    method: 'GET',
    path: target.path,
    headers: { host: target.authority, 'user-agent': 'weft-health-check', connection: 'close', ...controlHeaders(target) },
    createConnection: () => connectSocket(target, ['http/1.1']),
  });
  req.once('response', (res) => {
    res.resume();
    finish(res.statusCode === 200, `status ${res.statusCode}`);
  });
  req.once('error', fail);
  req.end();
  return () => req.destroy();
}

function h2Probe(protocol: 'http2' | 'grpc', target: ProbeTarget, finish: Finish, fail: (err: Error) => void): () => void {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const origin = `${target.tls ? 'https' : 'http'}://${host}:${target.port}`;
  const session: ClientHttp2Session = h2Connect(origin, target.tls ? { ...clientConnectOptions(target.tls), ALPNProtocols: ['h2'] } : {});
  session.once('error', fail);
  const grpc = protocol === 'grpc';
  const stream = session.request(
    grpc
      ? { ':method': 'POST', ':path': GRPC_HEALTH_PATH, ':authority': target.authority, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'weft-health-check', ...controlHeaders(target) }
      : { ':method': 'GET', ':path': target.path, ':authority': target.authority, 'user-agent': 'weft-health-check', ...controlHeaders(target) },
    { endStream: !grpc },
  );
  stream.once('error', fail);
  if (!grpc) {
    stream.once('response', (headers) => finish(headers[':status'] === 200, `status ${String(headers[':status'])}`));
  } else {
    let status: unknown;
    let grpcStatus: unknown;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.once('response', (headers) => {
      status = headers[':status'];
      grpcStatus = headers['grpc-status']; // trailers-only answer
    });
    stream.once('trailers', (trailers) => (grpcStatus = trailers['grpc-status']));
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) return finish(false, 'answer too large');
      chunks.push(chunk);
    });
    stream.once('end', () => {
      if (status !== 200) return finish(false, `status ${String(status)}`);
      if (grpcStatus !== '0') return finish(false, `grpc-status ${String(grpcStatus)}`);
      const serving = servingStatus(Buffer.concat(chunks));
      finish(serving === SERVING, serving === SERVING ? 'SERVING' : `serving status ${serving}`);
    });
    stream.end(EMPTY_GRPC_MESSAGE);
  }
  return () => {
    stream.destroy();
    session.destroy();
  };
}

/**
 * The `status` of a framed HealthCheckResponse (field 1, a varint enum); 0 (UNKNOWN) when the
 * message is missing, compressed or not one.
 */
export function servingStatus(frame: Buffer): number {
  if (frame.length < 5 || frame[0] !== 0) return 0;
  const length = frame.readUInt32BE(1);
  const msg = frame.subarray(5, 5 + length);
  let i = 0;
  while (i < msg.length) {
    const key = msg[i++];
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) {
      let value = 0;
      let shift = 0;
      while (i < msg.length) {
        const b = msg[i++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (field === 1) return value;
    } else if (wire === 2) {
      const len = msg[i++];
      i += len;
    } else {
      return 0;
    }
  }
  return 0;
}
