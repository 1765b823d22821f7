/**
 * `weft up`'s runner: loads and compiles the mesh, issues certificates, writes node configs and the
 * endpoints file into the state directory, runs a real sidecar (`weft proxy`, file config, file
 * endpoints, file certificates) for every replica and gateway and an app for every replica, waits
 * until they are ready, then follows edits of the mesh files and stops everything on request.
 */
import { stat } from 'node:fs/promises';
import { freePorts } from '../bench/ports';
import { compileLoaded } from '../lib/model/compile-loaded';
import { formatModelError, formatModelWarning, type ModelError } from '../lib/model/errors';
import { loadMeshFiles } from '../lib/model/load';
import type { LocalWorkloadResource } from '../lib/model/local-workload';
import type { MeshModel } from '../lib/model/schema';
import { serializeNodeConfig, type NodeConfig } from '../proxy/contracts';
import { SIDECAR_NODE_FLAGS } from '../proxy/sidecar-runtime';
import { watchDirectory, watchFile, type FileWatch } from '../proxy/sources/file-watch';
import { LocalIdentities } from './certificates';
import { desiredUnits, diffUnits, endpointsFile, localMeshes, portsFile, type UnitPorts, type UnitSpec } from './plan';
import { StateDir, writeAtomically } from './state-dir';
import { Supervised } from './supervisor';

/** How long a sidecar may drain on stop (its `--drain-deadline-ms`), and the grace after it. */
const SIDECAR_DRAIN_MS = 5_000;
const STOP_GRACE_MS = 3_000;
/** How long `weft up` waits for every sidecar's `/ready` and every app's health path. */
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

export interface UpOptions {
  /** Mesh files and directories. */
  paths: string[];
  stateDir: string;
  portsFile?: string;
  /** Bind gateway listeners to free ports instead of their configured ones. */
  freeGatewayPorts: boolean;
  /** The `weft` CLI the sidecars run (`<weftBin> proxy ...`). */
  weftBin: string;
  out: (text: string) => void;
  err: (text: string) => void;
}

interface RunningUnit {
  spec: UnitSpec;
  ports: UnitPorts;
  sidecar: Supervised;
  app?: Supervised;
  /** The sidecar has answered `/ready` once. */
  ready: boolean;
  /** The sidecar exited before it was ready (a port it could not bind, a config it refused). */
  exitedBeforeReady: boolean;
}

interface Loaded {
  meshes: MeshModel[];
  workloads: LocalWorkloadResource[];
  configs: NodeConfig[];
  errors: ModelError[];
  warnings: ModelError[];
}

/** A problem that stops `weft up` (exit 1), already worded for the user. */
export class UpError extends Error {}

export class LocalRunner {
  private readonly state: StateDir;
  private readonly identities: LocalIdentities;
  private readonly units = new Map<string, RunningUnit>();
  /** Node configs as last written, by file: unchanged ones are not rewritten. */
  private readonly written = new Map<string, string>();
  private readonly issued = new Set<string>();
  private portsText: string | undefined;
  private watches: FileWatch[] = [];
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private stopped = false;

  constructor(private readonly opts: UpOptions) {
    this.state = new StateDir(opts.stateDir);
    this.identities = new LocalIdentities(this.state);
  }

  /** The pids of the processes running now (apps and sidecars), each its own process group. */
  private get pids(): number[] {
    return [...this.units.values()].flatMap((u) => [u.sidecar.pid, u.app?.pid]).filter((p): p is number => p !== undefined);
  }

  /**
   * Validates, starts everything and waits until it is ready. Throws {@link UpError} with every
   * validation error, or naming what could not start; the caller then calls {@link stop}.
   */
  async start(): Promise<void> {
    const loaded = await this.load();
    if (loaded.errors.length > 0) throw new UpError(errorReport(loaded.errors));
    this.warn(loaded.warnings);
    const units = this.plan(loaded);
    if (units.length === 0) this.say('the mesh has no LocalWorkload and no gateway: nothing to run');
    this.noteUnservedNodes(loaded);
    await this.apply(loaded, units);
    this.watch();
    await this.writePortsFile();
    this.say(`ready: ${this.summary()}${this.opts.portsFile !== undefined ? `; ports in ${this.opts.portsFile}` : ''}`);
  }

  /** Drains the sidecars, then stops the apps; resolves when no process of `weft up` is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    await this.reloading?.catch(() => undefined);
    const all = [...this.units.values()];
    await Promise.all(all.map((u) => u.sidecar.stop(SIDECAR_DRAIN_MS + STOP_GRACE_MS)));
    await Promise.all(all.map((u) => u.app?.stop(STOP_GRACE_MS)));
  }

  /** SIGKILL to every process group at once (a second Ctrl-C, or `weft up` itself failing). */
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  private say(text: string): void {
    this.opts.out(`weft up: ${text}\n`);
  }

  private warn(warnings: readonly ModelError[]): void {
    for (const w of warnings) this.opts.err(`${formatModelWarning(w)}\n`);
  }

  private async load(): Promise<Loaded> {
    const { meshes: loadedMeshes, workloads, errors } = await loadMeshFiles(this.opts.paths);
    const meshes = localMeshes(loadedMeshes, workloads);
    const { configs, errors: all, warnings } = compileLoaded(meshes, errors, this.opts.paths);
    return { meshes, workloads, configs, errors: all, warnings };
  }

  private plan(loaded: Loaded): UnitSpec[] {
    const { units, collisions } = desiredUnits(loaded.meshes, loaded.workloads);
    if (collisions.length > 0) throw new UpError(`weft up runs each node and gateway under its name, which must be unique across the meshes; used twice: ${collisions.join(', ')}`);
    return units;
  }

  /** Nodes that callers route to but nothing runs: say so once, they will answer 503. */
  private noteUnservedNodes(loaded: Loaded): void {
    for (const m of loaded.meshes) {
      for (const n of m.virtualNodes) {
        const sd = n.spec.serviceDiscovery;
        const runs = loaded.workloads.some((w) => w.meshName === m.mesh.name && w.name === n.name && w.spec.replicas > 0);
        if (!runs && (n.spec.listeners ?? []).length > 0 && !(sd !== undefined && 'static' in sd)) {
          this.say(`virtual node ${n.name} has no LocalWorkload (and no static endpoints): nothing runs it, calls to it find no endpoint`);
        }
      }
    }
  }

  /**
   * Moves the running units to `desired`: units that went away or changed leave the endpoints
   * file and stop (draining), configs are written (running sidecars hot-reload them), new units
   * start, and join the endpoints file once their sidecar is ready and their app answers its
   * health path (callers never see a replica that cannot answer yet).
   */
  private async apply(loaded: Loaded, desired: UnitSpec[]): Promise<{ started: string[]; restarted: string[]; stopped: string[]; configs: number }> {
    const diff = diffUnits(new Map([...this.units].map(([k, u]) => [k, u.spec])), desired);
    const leaving = new Set(diff.stop.map((u) => u.key));
    if (leaving.size > 0) {
      await this.writeEndpoints([...this.units.values()].filter((u) => !leaving.has(u.spec.key)));
      await Promise.all(diff.stop.map((u) => this.stopUnit(u.key)));
    }
    const configs = await this.writeConfigs(loaded.configs, desired);
    const initial = this.units.size === 0;
    const fresh: RunningUnit[] = [];
    for (const spec of diff.start) fresh.push(await this.prepareUnit(spec));
    // At start every sidecar reads the whole file as it starts (nothing calls before "ready").
    // Later, replicas are listed once they can answer, and callers pick them up as they see it.
    if (initial) await this.writeEndpoints(fresh);
    for (const u of fresh) u.sidecar.start();
    await this.waitReady(fresh);
    for (const u of fresh) this.startApp(u);
    await this.waitAppsHealthy(fresh);
    if (!initial && fresh.length > 0) await this.writeEndpoints([...this.units.values()]);
    const stoppedKeys = new Set(diff.stop.map((u) => u.key));
    const startedKeys = new Set(diff.start.map((u) => u.key));
    return {
      started: [...startedKeys].filter((k) => !stoppedKeys.has(k)),
      restarted: [...startedKeys].filter((k) => stoppedKeys.has(k)),
      stopped: [...stoppedKeys].filter((k) => !startedKeys.has(k)),
      configs,
    };
  }

  private async writeConfigs(configs: readonly NodeConfig[], units: readonly UnitSpec[]): Promise<number> {
    let changed = 0;
    for (const c of configs) {
      if (!units.some((u) => u.mesh === c.mesh.name && u.node === c.node.name)) continue;
      const file = this.state.configFile(c.mesh.name, c.node.name);
      const text = serializeNodeConfig(c);
      if (this.written.get(file) === text) continue;
      await writeAtomically(file, text);
      this.written.set(file, text);
      changed++;
    }
    return changed;
  }

  private async writeEndpoints(units: readonly RunningUnit[]): Promise<void> {
    await writeAtomically(this.state.endpointsFile, `${JSON.stringify(endpointsFile(units), null, 2)}\n`);
  }

  private async writePortsFile(): Promise<void> {
    if (this.opts.portsFile === undefined) return;
    const text = `${JSON.stringify(portsFile([...this.units.values()]), null, 2)}\n`;
    // Unchanged, it is not rewritten: a ports file inside a watched directory would otherwise
    // set off a reload of its own after every reload.
    if (text === this.portsText) return;
    await writeAtomically(this.opts.portsFile, text);
    this.portsText = text;
  }

  /** Issues the unit's certificate (once per node), allocates its ports and makes its sidecar, not started yet. */
  private async prepareUnit(spec: UnitSpec): Promise<RunningUnit> {
    if (this.stopped) throw new UpError('stopped while starting');
    const identity = `${spec.mesh}\0${spec.node}`;
    const config = this.written.get(this.state.configFile(spec.mesh, spec.node));
    if (config === undefined) throw new UpError(`${spec.key}: no node config was compiled for it`);
    if (!this.issued.has(identity)) {
      const { node } = JSON.parse(config) as NodeConfig;
      await this.identities.issue(spec.mesh, spec.node, node.spiffeId);
      this.issued.add(identity);
    }
    const ports = await this.allocate(spec);
    const sidecar = new Supervised({
      name: `${spec.key} sidecar`,
      // As the image runs it: the same V8 flags (proxy/sidecar-runtime.ts), the same command.
      argv: [process.execPath, ...SIDECAR_NODE_FLAGS, this.opts.weftBin, 'proxy', ...this.sidecarFlags(spec, ports)],
      env: process.env,
      write: this.opts.out,
      restart: true,
      onExit: () => {
        if (!unit.ready) unit.exitedBeforeReady = true;
      },
    });
    const unit: RunningUnit = { spec, ports, sidecar, ready: false, exitedBeforeReady: false };
    this.units.set(spec.key, unit);
    return unit;
  }

  private async allocate(spec: UnitSpec): Promise<UnitPorts> {
    const gatewayOwn = spec.kind === 'gateway' && !this.opts.freeGatewayPorts;
    const listenerCount = gatewayOwn ? 0 : spec.listenerPorts.length;
    const base = spec.kind === 'node' ? 4 : 2;
    const free = await freePorts(base + listenerCount);
    const listeners: Record<number, number> = {};
    spec.listenerPorts.forEach((p, i) => (listeners[p] = gatewayOwn ? p : free[base + i]));
    return spec.kind === 'node'
      ? { inbound: free[0], egress: free[1], admin: free[2], metrics: free[3], listeners }
      : { admin: free[0], metrics: free[1], listeners };
  }

  private sidecarFlags(spec: UnitSpec, ports: UnitPorts): string[] {
    const flags = [
      '--config', this.state.configFile(spec.mesh, spec.node),
      '--node', spec.node,
      '--mesh', spec.mesh,
      '--endpoints', `file:${this.state.endpointsFile}`,
      '--cert-source', `file:${this.state.certDir(spec.mesh, spec.node)}`,
      '--admin-port', String(ports.admin),
      '--listen-address', '127.0.0.1',
      // Prometheus text on the admin port instead of EMF documents on stdout every minute.
      '--metrics', 'prometheus',
      '--metrics-port', String(ports.metrics),
      // The sidecars' info lines (started, config applied) would drown the apps' output; weft up
      // says what it did itself, and problems still show.
      '--log-level', 'warn',
      '--drain-deadline-ms', String(SIDECAR_DRAIN_MS),
      // A local app's health follows within a second, not App Mesh's 5 s and more.
      '--app-health-interval-ms', '1000',
    ];
    if (spec.kind === 'node') {
      flags.push('--inbound-port', String(ports.inbound), '--egress-port', String(ports.egress));
      if (spec.listenerPorts.length > 0) flags.push('--app-ports', spec.listenerPorts.map((p) => ports.listeners[p]).join(','));
    } else if (this.opts.freeGatewayPorts && spec.listenerPorts.length > 0) {
      flags.push('--gateway-ports', spec.listenerPorts.map((p) => `${p}=${ports.listeners[p]}`).join(','));
    }
    return flags;
  }

  private startApp(unit: RunningUnit): void {
    const { spec, ports } = unit;
    if (spec.kind !== 'node' || spec.workload === undefined) return;
    const proxy = `http://127.0.0.1:${ports.egress}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...spec.workload.env,
      HTTP_PROXY: proxy,
      http_proxy: proxy,
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
      NODE_USE_ENV_PROXY: '1',
    };
    spec.listenerPorts.forEach((p, i) => {
      if (i === 0) env.PORT = String(ports.listeners[p]);
      env[`PORT_${p}`] = String(ports.listeners[p]);
    });
    unit.app = new Supervised({ name: spec.key, argv: spec.workload.command, env, write: this.opts.out, restart: true });
    unit.app.start();
  }

  private async stopUnit(key: string): Promise<void> {
    const unit = this.units.get(key);
    if (unit === undefined) return;
    await unit.sidecar.stop(SIDECAR_DRAIN_MS + STOP_GRACE_MS);
    await unit.app?.stop(STOP_GRACE_MS);
    this.units.delete(key);
  }

  /** Waits for every sidecar's `/ready`; a sidecar that exits first is reported with the port it could not bind. */
  private async waitReady(units: readonly RunningUnit[]): Promise<void> {
    const pending = new Set(units);
    const until = Date.now() + READY_TIMEOUT_MS;
    while (pending.size > 0) {
      if (this.stopped) throw new UpError('stopped while starting');
      for (const u of [...pending]) {
        if (u.exitedBeforeReady) throw new UpError(startFailure(u));
        if (await answers(u.ports.admin, '/ready')) {
          pending.delete(u);
          u.ready = true;
        }
      }
      if (pending.size === 0) break;
      if (Date.now() > until) throw new UpError(`not ready after ${READY_TIMEOUT_MS / 1000} s: ${[...pending].map((u) => u.spec.key).join(', ')}`);
      await delay(POLL_MS);
    }
  }

  private async waitAppsHealthy(units: readonly RunningUnit[]): Promise<void> {
    const until = Date.now() + READY_TIMEOUT_MS;
    for (const u of units) {
      const path = u.spec.workload?.healthPath;
      if (path === undefined) continue;
      const port = u.ports.listeners[u.spec.listenerPorts[0]];
      while (!(await answers(port, path))) {
        if (this.stopped) throw new UpError('stopped while starting');
        if (Date.now() > until) throw new UpError(`${u.spec.key}: the app did not answer ${path} on port ${port} within ${READY_TIMEOUT_MS / 1000} s`);
        await delay(POLL_MS);
      }
    }
  }

  private summary(): string {
    const units = [...this.units.values()];
    const nodes = units.filter((u) => u.spec.kind === 'node');
    const gateways = units.filter((u) => u.spec.kind === 'gateway');
    return `${nodes.length} replica${nodes.length === 1 ? '' : 's'} of ${new Set(nodes.map((u) => u.spec.node)).size} node(s), ${gateways.length} gateway(s)`;
  }

  // --- Hot reload ---

  private watch(): void {
    for (const p of this.opts.paths) {
      void stat(p).then((s) => {
        if (this.stopped) return;
        this.watches.push(s.isDirectory() ? watchDirectory(p, () => this.onEdit(), 200) : watchFile(p, () => this.onEdit(), 200));
      });
    }
  }

  private onEdit(): void {
    if (this.stopped) return;
    if (this.reloading !== undefined) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = this.reload()
      .catch((err: unknown) => this.opts.err(`weft up: reload failed: ${(err as Error).message}\n`))
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain && !this.stopped) {
          this.reloadAgain = false;
          this.onEdit();
        }
      });
  }

  private async reload(): Promise<void> {
    const loaded = await this.load();
    if (loaded.errors.length > 0) {
      this.opts.err(`${errorReport(loaded.errors)}\nweft up: the edit is invalid; still running the last good mesh\n`);
      return;
    }
    this.warn(loaded.warnings);
    let units: UnitSpec[];
    try {
      units = this.plan(loaded);
    } catch (err) {
      this.opts.err(`weft up: ${(err as Error).message}; still running the last good mesh\n`);
      return;
    }
    const { started, restarted, stopped, configs } = await this.apply(loaded, units);
    await this.writePortsFile();
    // A file that is not part of the mesh changed (or an edit that changes nothing): no news.
    if (configs === 0 && started.length === 0 && restarted.length === 0 && stopped.length === 0) return;
    const parts = [`${configs} node config${configs === 1 ? '' : 's'} changed`];
    if (started.length > 0) parts.push(`started ${started.join(', ')}`);
    if (restarted.length > 0) parts.push(`restarted ${restarted.join(', ')}`);
    if (stopped.length > 0) parts.push(`stopped ${stopped.join(', ')}`);
    this.say(`reloaded: ${parts.join('; ')}`);
  }
}

function errorReport(errors: readonly ModelError[]): string {
  return `${errors.map(formatModelError).join('\n')}\n${errors.length} error${errors.length === 1 ? '' : 's'}`;
}

/** Names the port a sidecar could not bind, from its `sidecar_start_failed` line. */
function startFailure(u: RunningUnit): string {
  const lines = u.sidecar.lastLines();
  // Node's EADDRINUSE text, or the sidecar's own "(<address>:<port>) is already in use".
  const inUse = lines.map((l) => /EADDRINUSE[^\d]*(?:[\d.:[\]a-f]*:)?(\d+)|:(\d+)\) is already in use/.exec(l)).find((m) => m !== null);
  if (inUse) {
    const port = Number(inUse[1] ?? inUse[2]);
    const names: [string, number | undefined][] = [
      ['inbound', u.ports.inbound],
      ['egress', u.ports.egress],
      ['admin', u.ports.admin],
      ['metrics', u.ports.metrics],
      ...u.spec.listenerPorts.map((p): [string, number] => [`${u.spec.kind === 'gateway' ? 'listener' : 'app'} ${p}`, u.ports.listeners[p]]),
    ];
    const name = names.find(([, p]) => p === port)?.[0] ?? 'a';
    const hint = u.spec.kind === 'gateway' && name.startsWith('listener') && port === Number(name.slice('listener '.length)) ? ' (the port the mesh gives this gateway listener; --free-gateway-ports binds free ports instead)' : '';
    return `${u.spec.key}: cannot bind the ${name} port ${port}: it is in use${hint}`;
  }
  return `${u.spec.key}: the sidecar exited at start:\n${lines.join('\n')}`;
}

async function answers(port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
