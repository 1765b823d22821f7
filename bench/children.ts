/**
 * Child processes of the harness. Every server the bench starts goes through here so that one
 * call (and the exit/SIGINT hooks in run.ts) can stop all of them: a benchmark must never leave
 * nginx or a sidecar behind on a shared machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Resolves when the process has exited (with its code or signal). */
  exited: Promise<string>;
  /** The last lines the process wrote, for error messages. */
  tail(): string;
}

const children = new Set<Child>();
/** Short-lived tools (wrk) that must die with the bench too. */
const transient = new Set<ChildProcess>();

/** Registers a short-lived process so {@link stopAll} and {@link killAllNow} also end it. */
export function trackTransient(proc: ChildProcess): void {
  transient.add(proc);
  proc.once('exit', () => transient.delete(proc));
}

export interface StartOptions {
  /** File that receives the process's stdout and stderr. */
  logFile: string;
  /**
   * Read stdout and discard it (the pipe is drained, as a log driver drains it), so that a child
   * writing a line per request costs what writing it costs, not a log file's disk.
   */
  discardStdout?: boolean;
  /** CPU list for taskset (e.g. "1"); undefined runs unpinned. */
  cpus?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a long-running child. It is registered for {@link stopAll} before this returns. */
export function startChild(name: string, command: string, args: string[], opts: StartOptions): Child {
  const [cmd, argv] = opts.cpus !== undefined ? ['taskset', ['-c', opts.cpus, command, ...args]] : [command, args];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const log = createWriteStream(opts.logFile);
  let recent = '';
  const keep = (chunk: Buffer): void => {
    log.write(chunk);
    recent = (recent + chunk.toString()).slice(-4000);
  };
  proc.stdout?.on('data', opts.discardStdout ? () => undefined : keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    proc.on('exit', (code, signal) => {
      children.delete(child);
      log.end();
      resolve(signal ?? `exit code ${code}`);
    });
    proc.on('error', (err) => {
      children.delete(child);
      resolve(`spawn error: ${err.message}`);
    });
  });
  const child: Child = { name, pid: proc.pid, process: proc, exited, tail: () => recent.trim() };
  children.add(child);
  return child;
}

/** SIGTERM to one child, SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Stops every child still running. */
export async function stopAll(graceMs = 3000): Promise<void> {
  for (const t of transient) t.kill('SIGKILL');
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
}

/** Synchronous last resort for process 'exit': no time to wait, so SIGKILL. */
export function killAllNow(): void {
  for (const t of transient) t.kill('SIGKILL');
  for (const c of children) {
    try {
      c.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Number of children still running (the smoke test checks that a run leaves none). */
export function runningChildren(): number {
  return children.size + transient.size;
}

/**
 * Waits until 127.0.0.1:port accepts TCP connections, failing early if the child exits and at the
 * latest after `timeoutMs`.
 */
export async function waitForPort(child: Child, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  void child.exited.then((how) => (exitedWith = how));
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) throw new Error(`${child.name} exited (${exitedWith}) before listening on ${port}:\n${child.tail()}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${child.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${child.tail()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
