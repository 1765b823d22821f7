/**
 * The sidecar as the image runs it: the built bundle (dist/weft-proxy.js, made by `npm run build`,
 * which `npm test` runs first) in a child process of its own, so that a probe which crashes or
 * starves the process shows as an exit or a silence, not as a failed assertion inside jest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePorts } from '../../../bench/ports';
import { ConfigDir, eventually, type ConfigBody } from '../harness';

const BUNDLE = join(__dirname, '../../../dist/weft-proxy.js');

export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly config: ConfigDir;
  readonly ports: { inbound: number; egress: number; admin: number };
  /** Everything the process wrote (JSON log lines). */
  output(): string;
  /** Log lines parsed, in order. */
  events(): { event: string; [field: string]: unknown }[];
  /** The exit code once it exited (null for a signal), undefined while it runs. */
  exitCode(): number | null | undefined;
  stop(): Promise<void>;
}

/** Starts the bundle on `body` with free ports and waits for `sidecar_started`. */
export async function startSidecarProcess(body: ConfigBody, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const config = new ConfigDir();
  config.write(body);
  const [inbound, egress, admin] = await freePorts(3);
  const child = spawn(
    process.execPath,
    [BUNDLE, '--config', config.path, '--inbound-port', String(inbound), '--egress-port', String(egress), '--admin-port', String(admin), '--listen-address', '127.0.0.1', '--metrics', 'none', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let output = '';
  let exit: number | null | undefined;
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exit = code;
      resolve();
    }),
  );
  await eventually(() => output.includes('"sidecar_started"') || exit !== undefined, 'the sidecar to start');
  if (exit !== undefined) throw new Error(`sidecar exited with ${exit} at start:\n${output}`);
  return {
    child,
    config,
    ports: { inbound, egress, admin },
    output: () => output,
    events: () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string }),
    exitCode: () => exit,
    async stop() {
      if (exit === undefined) {
        child.kill('SIGKILL');
        await exited;
      }
      config.remove();
    },
  };
}
