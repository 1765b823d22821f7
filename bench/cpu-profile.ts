/**
 * Summary of V8 CPU profiles (`node --cpu-prof`): where the sidecar spends its time. Two views:
 * self time per function (the sample's top frame), and time per innermost project frame — native
 * and Node-internal work (TLS, socket writes, parsing) charged to the project function that asked
 * for it, which is what a change in proxy/ can act on. Bundled frames are mapped back to their
 * source files through the bundle's source map when it is next to the bundle.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  /** `name (file:line)` */
  frame: string;
  ms: number;
  /** Share of the busy (non-idle) sampled time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  totalMs: number;
  selfTime: FrameTime[];
  /** Time charged to the innermost frame whose source path contains `projectMarker`. */
  byProjectFrame: FrameTime[];
}

const IDLE = new Set(['(idle)', '(program)']);

/** Summarizes one profile. `projectMarker` picks the project's frames (default `/proxy/`). */
export function summarizeProfile(file: string, limit = 15, projectMarker = '/proxy/'): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const maps = new Map<string, SourceMap | undefined>();
  const names = new Map<number, { label: string; source: string }>();
  const describe = (id: number): { label: string; source: string } => {
    let d = names.get(id);
    if (d === undefined) {
      d = describeFrame(byId.get(id)!.callFrame, maps);
      names.set(id, d);
    }
    return d;
  };

  const self = new Map<string, number>();
  const project = new Map<string, number>();
  let total = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    if (!byId.has(id)) return;
    total += dt;
    const top = describe(id);
    if (IDLE.has(byId.get(id)!.callFrame.functionName)) return;
    busy += dt;
    self.set(top.label, (self.get(top.label) ?? 0) + dt);
    let at: number | undefined = id;
    while (at !== undefined && !describe(at).source.includes(projectMarker)) at = parent.get(at);
    const owner = at === undefined ? '(no project frame on the stack)' : describe(at).label;
    project.set(owner, (project.get(owner) ?? 0) + dt);
  });
  const top = (m: Map<string, number>): FrameTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([frame, us]) => ({ frame, ms: Math.round(us / 100) / 10, share: busy > 0 ? us / busy : 0 }));
  return { file, busyMs: Math.round(busy / 1000), totalMs: Math.round(total / 1000), selfTime: top(self), byProjectFrame: top(project) };
}

function describeFrame(f: CallFrame, maps: Map<string, SourceMap | undefined>): { label: string; source: string } {
  const name = f.functionName || '(anonymous)';
  if (f.url === '') return { label: name, source: '' };
  const path = f.url.replace(/^file:\/\//, '');
  let map = maps.get(path);
  if (!maps.has(path)) {
    map = existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : undefined;
    maps.set(path, map);
  }
  const entry = map?.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource !== undefined) {
    const source = entry.originalSource.replace(/^(\.\.\/)+/, '/');
    return { label: `${name} (${shorten(source)}:${(entry.originalLine ?? 0) + 1})`, source };
  }
  return { label: `${name} (${shorten(path)}:${f.lineNumber + 1})`, source: path };
}

function shorten(path: string): string {
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm);
  for (const root of ['/proxy/', '/lib/', '/bin/', '/dist/']) {
    const i = path.lastIndexOf(root);
    if (i >= 0) return path.slice(i + 1);
  }
  return path;
}

/** Every `*.cpuprofile` below `dir`. */
export function findProfiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findProfiles(p));
    else if (entry.endsWith('.cpuprofile')) out.push(p);
  }
  return out.sort();
}

/** Markdown tables of both views for each profile. */
export function renderProfiles(files: readonly string[], limit = 15): string {
  const table = (rows: FrameTime[]): string[] => [
    '| share of busy time | ms | function |',
    '|---:|---:|---|',
    ...rows.map((t) => `| ${(t.share * 100).toFixed(1)}% | ${t.ms.toFixed(0)} | \`${t.frame.replace(/\|/g, '/')}\` |`),
  ];
  return files
    .map((f) => {
      const s = summarizeProfile(f, limit);
      return [
        `${f} (busy ${s.busyMs} ms of ${s.totalMs} ms sampled)`,
        '',
        'Self time:',
        '',
        ...table(s.selfTime),
        '',
        'Charged to the innermost proxy/ frame:',
        '',
        ...table(s.byProjectFrame),
        '',
      ].join('\n');
    })
    .join('\n');
}
