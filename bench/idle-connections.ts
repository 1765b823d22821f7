/**
 * Memory a sidecar holds for connections that send nothing: a client opens N connections to one
 * sidecar port (on the mesh path the inbound sidecar's mTLS port, with a full handshake and a
 * client certificate the sidecar verifies; on the one-hop path the egress port, in plaintext),
 * leaves them idle, then closes them, for several rounds. The harness reads the sidecar's
 * /proc/<pid>/status before each round, with the connections open and after they closed.
 *
 * The client is a child process of its own (the memory bundle started with
 * {@link IDLE_CLIENT_FLAG}), so its sockets, TLS state and CPU are neither the sidecar's nor the
 * harness's. Every wait is for an event: the client reports when its handshakes are done, and the
 * harness watches the sidecar's open file descriptors until the connections arrived or left,
 * then gives the sidecar `settleMs` to finish what the event started (GC, freeing buffers).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import type { IdentityFiles } from './certs';
import { sleep } from './children';
import { memoryStatus, type MemoryStatus } from './proc-stats';

export const IDLE_CLIENT_FLAG = '--idle-connections-client';

/** Handshakes in flight at once: enough to open 2,000 connections in seconds, few enough to stay inside the listen backlog and the handshake timeout. */
const OPEN_CONCURRENCY = 64;
/** Time the sidecar has to accept or drop the connections before the harness gives up. */
const FD_WAIT_MS = 30_000;
/**
 * Descriptors the sidecar opens or closes on its own meanwhile: the outbound sidecar's pooled
 * connection from the path check times out, and with it the inbound's upstream connection.
 */
const FD_SLACK = 16;

type ClientIdentity = Pick<IdentityFiles, 'privateKey' | 'certificate' | 'trustBundle'>;

type ToClient = { op: 'open'; port: number; count: number; identity: ClientIdentity | undefined } | { op: 'count' } | { op: 'close' };
type FromClient =
  | { op: 'opened'; open: number; failed: number; firstError: string | undefined; tickets: number; ms: number }
  | { op: 'count'; open: number }
  | { op: 'closed' };

/** Runs the client side in this process, driven by messages from the harness, until it disconnects. */
export function runIdleClient(): void {
  const open = new Set<Socket>();
  const send = (m: FromClient): void => void process.send!(m);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToClient) => {
    if (m.op === 'count') send({ op: 'count', open: open.size });
    else if (m.op === 'close') {
      const closing = [...open].map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : (s.once('close', () => resolve()), s.destroy()))));
      void Promise.all(closing).then(() => send({ op: 'closed' }));
    } else void openAll(m, open).then(send);
  });
}

async function openAll(m: Extract<ToClient, { op: 'open' }>, open: Set<Socket>): Promise<FromClient> {
  // One context for every connection: PEM texts in the connect options would make Node parse them
  // and build a trust store for each, CPU the client would take from the sidecar on a small machine.
  const secureContext =
    m.identity &&
    createSecureContext({ key: readFileSync(m.identity.privateKey), cert: readFileSync(m.identity.certificate), ca: readFileSync(m.identity.trustBundle) });
  const started = Date.now();
  let failed = 0;
  let tickets = 0;
  let firstError: string | undefined;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = secureContext
        ? // The chain is verified against the mesh trust; the name is not checked (the bench's peer is fixed).
          tlsConnect({ host: '127.0.0.1', port: m.port, secureContext, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined })
        : netConnect({ host: '127.0.0.1', port: m.port });
      if (secureContext) socket.on('session', () => tickets++);
      socket.once(secureContext ? 'secureConnect' : 'connect', () => {
        open.add(socket);
        // Reads whatever the sidecar sends (TLS session tickets), so that a close is a FIN, not a reset over unread bytes.
        socket.resume();
        resolve();
      });
      socket.on('error', (err) => {
        if (!open.has(socket)) {
          failed++;
          firstError ??= err.message;
          resolve();
        }
        socket.destroy();
      });
      socket.once('close', () => open.delete(socket));
    });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < m.count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, m.count) }, lane));
  return { op: 'opened', open: open.size, failed, firstError, tickets, ms: Date.now() - started };
}

/** The harness's handle on the client process. */
class IdleClient {
  private constructor(private readonly child: ChildProcess) {}

  static start(script: string): IdleClient {
    const child = fork(script, [IDLE_CLIENT_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    return new IdleClient(child);
  }

  request<K extends FromClient['op']>(m: ToClient, reply: K): Promise<Extract<FromClient, { op: K }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (r: FromClient): void => {
        if (r.op !== reply) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(r as Extract<FromClient, { op: K }>);
      };
      const onExit = (code: number | null, signal: string | null): void => reject(new Error(`idle-connection client exited (${signal ?? `exit code ${code}`})`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(m);
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Waits until `pid` holds at least (`atLeast`) or at most (`!atLeast`) `target` file descriptors. */
async function waitForFds(pid: number, target: number, atLeast: boolean): Promise<void> {
  const deadline = Date.now() + FD_WAIT_MS;
  for (;;) {
    const n = openFds(pid);
    if (atLeast ? n >= target : n <= target) return;
    if (Date.now() > deadline) throw new Error(`sidecar ${pid} holds ${n} file descriptors after ${FD_WAIT_MS} ms, expected ${atLeast ? 'at least' : 'at most'} ${target}`);
    await sleep(50);
  }
}

/**
 * Fails early when the client (or the sidecar) could not hold `count` connections. Node raises its
 * soft limit on open files to the hard one at start, so this process's limit, read from
 * /proc/self/limits, is what each Node child gets; the shell's `ulimit -n` may show less.
 */
export function checkOpenFileLimit(count: number): void {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const limit = m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  const needed = count + 200;
  if (needed > limit) throw new Error(`--idle-connections needs about ${needed} open files per process, more than the limit of ${limit} (raise it with ulimit -n, as root for the hard limit), got: ${count}`);
}

export interface IdleRound {
  /** The sidecar before the round's connections were opened. */
  before: MemoryStatus;
  /** With the connections open and idle. */
  open: MemoryStatus;
  /** Connections the client still held when `open` was read. */
  opened: number;
  /** After the client closed them and the sidecar released their descriptors. */
  closed: MemoryStatus;
}

export interface IdleTarget {
  /** The sidecar process that accepts the connections. */
  pid: number;
  port: number;
  /** Client certificate for an mTLS port; undefined for plaintext. */
  identity: ClientIdentity | undefined;
}

export interface IdleOptions {
  count: number;
  rounds: number;
  settleMs: number;
  /** The bundle that runs the client ({@link IDLE_CLIENT_FLAG}). */
  script: string;
  log: (line: string) => void;
}

/** Opens and closes `count` idle connections to the target, `rounds` times, reading its memory at each step. */
export async function measureIdleConnections(target: IdleTarget, o: IdleOptions): Promise<IdleRound[]> {
  const client = IdleClient.start(o.script);
  try {
    const baseFds = openFds(target.pid);
    const out: IdleRound[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const before = memoryStatus(target.pid);
      const opened = await client.request({ op: 'open', port: target.port, count: o.count, identity: target.identity }, 'opened');
      if (opened.failed > 0) o.log(`round ${round}: ${opened.failed} of ${o.count} connections failed (first: ${opened.firstError})`);
      await waitForFds(target.pid, baseFds + opened.open - FD_SLACK, true);
      await sleep(o.settleMs);
      const open = memoryStatus(target.pid);
      const { open: still } = await client.request({ op: 'count' }, 'count');
      o.log(`round ${round}: ${opened.open} connections in ${opened.ms} ms${target.identity ? `, ${opened.tickets} session tickets` : ''}, ${still} still open at the reading`);
      await client.request({ op: 'close' }, 'closed');
      await waitForFds(target.pid, baseFds + FD_SLACK, false);
      await sleep(o.settleMs);
      out.push({ before, open, opened: still, closed: memoryStatus(target.pid) });
    }
    return out;
  } finally {
    client.stop();
  }
}
