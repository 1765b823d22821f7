/**
 * `weft up <files|dirs…>`: the whole mesh on this machine. Parses the command line, runs the
 * {@link LocalRunner} until SIGINT or SIGTERM, then drains and stops everything. Exit codes as the
 * other commands: 0 after a clean stop, 1 when the mesh is invalid or something could not start,
 * 2 for a wrong command line.
 */
import { parseArgs } from 'node:util';
import { LocalRunner, UpError } from './runner';

export function upUsage(): string {
  return [
    'usage: weft up <file|dir>... [--state-dir DIR] [--ports-file FILE] [--free-gateway-ports]',
    '',
    'Runs the mesh on this machine: for every replica of each virtual node that has a LocalWorkload',
    'document, its app (spec.command) and a sidecar (`weft proxy` with file config, file endpoints',
    'and a certificate from a local CA), and a sidecar for every virtual gateway. Prints every',
    'validation error and exits 1 when the mesh is invalid. Once every sidecar answers /ready (and',
    'every app its spec.healthPath), it prints "ready" and writes the ports file. A port that cannot',
    'be bound is named and exits 1. State (the local CA, certificates, configs, endpoints) is kept',
    'in the state directory.',
    '',
    'Each app gets PORT (and PORT_<listener port> per listener), HTTP_PROXY and http_proxy (its',
    "sidecar's egress listener), NO_PROXY for loopback, NODE_USE_ENV_PROXY=1 and its spec.env. Apps",
    'that exit are restarted (250 ms, doubling to 10 s); their output is prefixed [node/replica].',
    '',
    'Editing a mesh file recompiles it: changed node configs are rewritten and the sidecars reload',
    'them; replicas, workloads and gateways that were added, removed or changed are started and',
    'stopped; an invalid edit prints its errors and the last good mesh keeps running. Files in the',
    'given directories are watched, not those in their subdirectories.',
    '',
    'Ctrl-C or SIGTERM drains the sidecars (up to 5 s), stops the apps and exits 0; a second one kills',
    'everything at once.',
    '',
    'options:',
    '  --state-dir DIR       the local CA, certificates, node configs and endpoints file (default .weft)',
    '  --ports-file FILE     write the ports as JSON once ready, and again after each reload:',
    '                        {"nodes": {"<node>": [{"egress", "inbound", "admin", "app"}]},',
    '                         "gateways": {"<gateway>": {"<listener port>": port}}}',
    '  --free-gateway-ports  bind gateway listeners to free ports instead of the ports the mesh gives',
  ].join('\n');
}

export async function upCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { 'state-dir': { type: 'string', default: '.weft' }, 'ports-file': { type: 'string' }, 'free-gateway-ports': { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`weft: ${(err as Error).message}\n\n${upUsage()}\n`);
    return 2;
  }
  if (parsed.positionals.length === 0) {
    process.stderr.write(`weft: no files or directories given\n\n${upUsage()}\n`);
    return 2;
  }
  const runner = new LocalRunner({
    paths: parsed.positionals,
    stateDir: parsed.values['state-dir'],
    portsFile: parsed.values['ports-file'],
    freeGatewayPorts: parsed.values['free-gateway-ports'],
    weftBin: process.argv[1],
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
  // Whatever ends this process, its children's groups go with it.
  process.on('exit', () => runner.killAll());
  let signalled = 0;
  let stopping: Promise<void> | undefined;
  const stop = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (++signalled > 1) {
        runner.killAll();
        process.exit(1);
      }
      process.stdout.write('weft up: stopping (draining the sidecars)\n');
      stopping = runner.stop();
      void stopping.then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  try {
    await runner.start();
  } catch (err) {
    await runner.stop();
    // Interrupted while starting: a stop, not a failure.
    if (signalled > 0) return 0;
    if (!(err instanceof UpError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  await stop;
  process.stdout.write('weft up: stopped\n');
  return 0;
}
