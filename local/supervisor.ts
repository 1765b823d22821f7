/**
 * One supervised child process of `weft up` (an app or a sidecar): started in a process group of
 * its own, so that stopping it also stops whatever it started; its output lines prefixed with its
 * name; restarted with exponential backoff when it exits on its own. Apps and sidecars are
 * detached from the terminal's process group, so Ctrl-C reaches only `weft up`, which stops them
 * in order (sidecars drain first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Restart delays: 250 ms doubled per exit in a row, at most 10 s. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** A process that ran this long before it exited starts again from the first delay. */
const STABLE_AFTER_MS = 10_000;

export interface SupervisedOptions {
  /** The output prefix, e.g. `orders/0` or `orders/0 sidecar`. */
  name: string;
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Where prefixed lines go (stdout of `weft up`). */
  write: (line: string) => void;
  /** Restart when the process exits on its own. */
  restart: boolean;
  /** Told of every exit (also those followed by a restart). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export class Supervised {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tail: string[] = [];

  constructor(private readonly opts: SupervisedOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** The pid (and process group) of the process running now. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the process wrote (at most 20). */
  lastLines(): readonly string[] {
    return this.tail;
  }

  start(): void {
    const [program, ...args] = this.opts.argv;
    const startedAt = Date.now();
    const child = spawn(program, args, { env: this.opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.line(line));
    this.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (done) return;
        done = true;
        this.child = undefined;
        // Whatever the process started in its group goes with it.
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
        if (error !== undefined) this.line(`cannot start ${program}: ${error.message}`);
        this.opts.onExit?.(code, signal);
        resolve();
        if (!this.stopping && this.opts.restart) this.scheduleRestart(Date.now() - startedAt);
      };
      child.once('error', (err) => finish(null, null, err));
      child.once('exit', (code, signal) => finish(code, signal));
    });
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (child?.pid === undefined) return this.exited;
    killGroup(child.pid, 'SIGTERM');
    const kill = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(kill);
  }

  private line(text: string): void {
    this.tail.push(text);
    if (this.tail.length > 20) this.tail.shift();
    this.opts.write(`[${this.opts.name}] ${text}\n`);
  }

  private scheduleRestart(ranMs: number): void {
    this.failures = ranMs >= STABLE_AFTER_MS ? 1 : this.failures + 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.failures - 1));
    this.opts.write(`[${this.opts.name}] exited; restarting in ${delay} ms\n`);
    this.timer = setTimeout(() => {
      if (!this.stopping) this.start();
    }, delay);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
