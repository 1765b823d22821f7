/**
 * The `weft` command line. Each command is an entry in {@link commands}; adding one (`proxy`,
 * `up`) means adding an entry with its summary, usage and `run`.
 *
 * Exit codes: 0 success, 1 the input has errors (every one is printed), 2 the command line is wrong.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { NodeConfig } from '../proxy/contracts';
import type { ModelError } from '../lib/model/errors';
import type { MeshModel } from '../lib/model/schema';

// Every command loads its implementation when it runs, never at startup: the bundle keeps
// packages external and `weft proxy` is a long-lived sidecar, so whatever one command imports
// (the model compiler, yaml) would otherwise sit in every other command's memory.

interface Command {
  /** One line for `weft --help`. */
  summary: string;
  /** The full usage text for `weft help <cmd>`; a function when it needs the command's code. */
  usage: string | (() => Promise<string>);
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** A wrong command line: printed with the command's usage, exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

// --- Shared helpers ---

/** Parses a command's flags; unknown flags and missing values become a {@link UsageError}. */
function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
}

async function printErrors(errors: readonly ModelError[]): Promise<void> {
  const { formatModelError } = await import('../lib/model/errors');
  for (const e of errors) process.stderr.write(`${formatModelError(e)}\n`);
  process.stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
}

/** Warnings go to stderr (stdout may carry configs) and leave the exit code alone. */
async function printWarnings(warnings: readonly ModelError[]): Promise<void> {
  if (warnings.length === 0) return;
  const { formatModelWarning } = await import('../lib/model/errors');
  for (const w of warnings) process.stderr.write(`${formatModelWarning(w)}\n`);
  process.stderr.write(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
}

/**
 * Loads and compiles every mesh of the sources, collecting every error on the way, and the
 * warnings of every mesh that loaded.
 */
async function loadAndCompile(paths: string[], nodes?: string[]): Promise<{ meshes: MeshModel[]; configs: NodeConfig[]; errors: ModelError[]; warnings: ModelError[] }> {
  const [{ loadMeshFiles }, { compileLoaded }] = await Promise.all([import('../lib/model/load'), import('../lib/model/compile-loaded')]);
  const { meshes, errors } = await loadMeshFiles(paths);
  return { meshes, ...compileLoaded(meshes, errors, paths, nodes) };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Writes `file` by renaming a finished temporary file of the same directory over it, so a sidecar
 * watching `file` reads the old config or the new one, never half of one.
 */
async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

// --- Commands ---

const commands: Record<string, Command> = {
  validate: {
    summary: 'check mesh files and directories, and that every node compiles',
    usage: [
      'usage: weft validate <file|dir>...',
      '',
      'Loads every mesh in the given files and directories (*.yaml, *.yml, *.json), validates it and',
      'compiles every virtual node and gateway. Prints a summary, or every error (one per line) on',
      'stderr and exits 1. Fields the sidecar does not apply yet are warnings on stderr (exit 0),',
      'or errors for security policy the sidecar would not enforce (none today).',
    ].join('\n'),
    async run(argv) {
      const { positionals } = parseCommandArgs('validate', argv, {});
      if (positionals.length === 0) throw new UsageError('no files or directories given', 'validate');
      const { meshes, configs, errors, warnings } = await loadAndCompile(positionals);
      await printWarnings(warnings);
      if (errors.length > 0) {
        await printErrors(errors);
        return EXIT_INVALID;
      }
      const total = (pick: (m: MeshModel) => unknown[]) => meshes.reduce((n, m) => n + pick(m).length, 0);
      const parts = [
        plural(meshes.length, 'mesh', 'meshes'),
        plural(total((m) => m.virtualNodes), 'virtual node'),
        plural(total((m) => m.virtualServices), 'virtual service'),
        plural(total((m) => m.virtualRouters), 'router'),
        plural(total((m) => m.routes), 'route'),
        plural(total((m) => m.virtualGateways), 'gateway'),
        plural(total((m) => m.gatewayRoutes), 'gateway route'),
        plural(configs.length, 'node config'),
      ];
      process.stdout.write(`ok: ${parts.join(', ')}\n`);
      return EXIT_OK;
    },
  },

  compile: {
    summary: 'compile mesh files into per-node sidecar configs',
    usage: [
      'usage: weft compile <file|dir>... [--node NAME]... [--out DIR]',
      '',
      'Compiles every virtual node and gateway (or only those named with --node) and prints the node',
      'configs as JSON: one config as an object, several as an array. Warnings and errors go to',
      'stderr, as for validate.',
      '',
      'options:',
      '  --node NAME  only this virtual node or gateway (repeatable)',
      '  --out DIR    write DIR/<mesh>/nodes/<node>.json instead of printing',
    ].join('\n'),
    async run(argv) {
      const { positionals, values } = parseCommandArgs('compile', argv, {
        node: { type: 'string', multiple: true },
        out: { type: 'string' },
      });
      if (positionals.length === 0) throw new UsageError('no files or directories given', 'compile');
      const nodes = values.node as string[] | undefined;
      const { meshes, configs, errors, warnings } = await loadAndCompile(positionals, nodes);
      await printWarnings(warnings);
      if (nodes && errors.length === 0) {
        const found = new Set(configs.map((c) => c.node.name));
        const missing = nodes.filter((n) => !found.has(n));
        if (missing.length > 0) {
          const known = meshes.flatMap((m) => [...m.virtualNodes, ...m.virtualGateways].map((r) => r.name)).sort();
          for (const n of missing) errors.push({ file: positionals.join(', '), path: '--node', message: `no virtual node or gateway named '${n}'; known: ${known.join(', ')}` });
        }
      }
      if (errors.length > 0) {
        await printErrors(errors);
        return EXIT_INVALID;
      }
      const { nodeConfigKey, serializeNodeConfig } = await import('../proxy/contracts');
      const out = values.out as string | undefined;
      if (out !== undefined) {
        for (const c of configs) {
          const file = join(out, nodeConfigKey(c.mesh.name, c.node.name));
          await mkdir(dirname(file), { recursive: true });
          await writeFileAtomically(file, serializeNodeConfig(c));
          process.stdout.write(`wrote ${file}\n`);
        }
        return EXIT_OK;
      }
      if (configs.length === 1) process.stdout.write(serializeNodeConfig(configs[0]));
      else process.stdout.write(`${JSON.stringify(configs.map((c) => JSON.parse(serializeNodeConfig(c)) as unknown), null, 2)}\n`);
      return EXIT_OK;
    },
  },

  proxy: {
    summary: 'run the sidecar proxy (settings from flags or WEFT_* environment variables)',
    usage: async () => (await import('../proxy/main')).proxyUsage(),
    run: async (argv) => (await import('../proxy/main')).proxyCommand(argv),
  },

  up: {
    summary: 'run the mesh on this machine: apps, sidecars with mTLS, gateways (see docs/local.md)',
    usage: async () => (await import('../local/up-command')).upUsage(),
    run: async (argv) => (await import('../local/up-command')).upCommand(argv),
  },

  help: {
    summary: 'show help for a command',
    usage: 'usage: weft help [command]',
    async run(argv) {
      const [name] = argv;
      if (name === undefined) {
        process.stdout.write(`${generalUsage()}\n`);
        return EXIT_OK;
      }
      const command = commands[name];
      if (!command) throw new UsageError(`unknown command '${name}'`);
      process.stdout.write(`${await usageOf(command)}\n`);
      return EXIT_OK;
    },
  },
};

function usageOf(command: Command): Promise<string> {
  return typeof command.usage === 'string' ? Promise.resolve(command.usage) : command.usage();
}

function generalUsage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'usage: weft <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'weft help <command>' or 'weft <command> --help' for a command's options.",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError('no command given');
    if (name === '--help' || name === '-h') return await commands.help.run([]);
    const command = commands[name];
    if (!command) throw new UsageError(`unknown command '${name}'`);
    if (rest.includes('--help') || rest.includes('-h')) return await commands.help.run([name]);
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      const usage = err.command ? await usageOf(commands[err.command]) : generalUsage();
      process.stderr.write(`weft: ${err.message}\n\n${usage}\n`);
      return EXIT_USAGE;
    }
    // Anything else (UnknownNodeError included) is the input's fault: its message, exit 1.
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`weft: ${e.code === 'ENOENT' && e.path ? `no such file or directory: ${e.path}` : e.message}\n`);
    return EXIT_INVALID;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
