/**
 * CPU time and peak memory of processes, read from /proc (Linux only). The bench charges a proxy
 * with the CPU of its whole process tree (nginx master + workers, a Node sidecar and any helpers).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === undefined) continue;
    const ppid = Number(fields[1]);
    const list = byParent.get(ppid) ?? [];
    list.push(Number(entry));
    byParent.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (statFields(pid) === undefined) continue;
    out.push(pid);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

/** User + system CPU seconds used so far by the given processes (processes that are gone count 0). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    // After the ")": state(0) ppid(1) ... utime(11) stime(12)
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond();
}

/** Sum of the peak resident set sizes (VmHWM) of the given processes, in bytes. */
export function peakRssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // process gone
    }
  }
  return total;
}

/**
 * Current anonymous (heap, stacks) and file-backed (mapped binary and libraries, shared between
 * processes of the same binary) resident memory, summed over the processes, in bytes.
 */
export function residentBreakdown(pids: readonly number[]): { anon: number; file: number } {
  const out = { anon: 0, file: 0 };
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      out.anon += Number(/^RssAnon:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
      out.file += Number(/^RssFile:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // process gone
    }
  }
  return out;
}

/** 1-minute load average, to record how quiet the machine was. */
export function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of one process from /proc/<pid>/status, in bytes. */
export interface MemoryStatus {
  /** VmRSS */
  rss: number;
  /** VmHWM, the peak of VmRSS */
  hwm: number;
  /** RssAnon: heap, stacks */
  anon: number;
  /** RssFile: mapped files (the binary and libraries) */
  file: number;
}

const STATUS_FIELDS: Record<keyof MemoryStatus, string> = { rss: 'VmRSS', hwm: 'VmHWM', anon: 'RssAnon', file: 'RssFile' };

/** Reads {@link MemoryStatus}; throws when the process is gone. */
export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key: keyof MemoryStatus): number => {
    const m = new RegExp(`^${STATUS_FIELDS[key]}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${STATUS_FIELDS[key]}`);
    return Number(m[1]) * 1024;
  };
  return { rss: field('rss'), hwm: field('hwm'), anon: field('anon'), file: field('file') };
}
