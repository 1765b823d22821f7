/**
 * Watches one file for replacement or modification. Watches the parent directory rather than the
 * file, because config writers (and Kubernetes/ECS volume updaters) replace files by rename, which
 * a watch on the old inode would miss, or swap a `..data` symlink the file points through.
 * Bursts of events are coalesced into one callback.
 */
import { stat, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  /** False while the watch is lost (its directory removed or remounted) and waits to start again. */
  readonly watching: boolean;
  close(): void;
}

/** Calls `onChange` (debounced by `debounceMs`) whenever a file named like `path` changes. */
export function watchFile(path: string, onChange: () => void, debounceMs = 25): FileWatch {
  const name = basename(path);
  // Kubernetes-style volume updaters (projected secrets, config maps) publish a new version by
  // renaming a `..data` symlink that the file links through: the file's own name never shows up.
  return debouncedWatch(dirname(path), (file) => file === null || file === name || file.startsWith('..'), onChange, debounceMs);
}

/** Like {@link watchFile} for every file of a directory (certificate directories change as a set). */
export function watchDirectory(dir: string, onChange: () => void, debounceMs = 50): FileWatch {
  return debouncedWatch(dir, () => true, onChange, debounceMs);
}

/** How often a watch that failed (its directory removed or remounted) tries to start again. */
const REARM_MS = 1_000;

/**
 * Watches `dir`, coalescing bursts of events for files `relevant` accepts into one `onChange`.
 * A watch that fails (the directory was removed, or the volume under it remounted) is started
 * again once the directory is back, and reports a change then, since the file may have changed
 * while nothing watched it: a sidecar never stops noticing updates because of one bad moment.
 */
function debouncedWatch(dir: string, relevant: (file: string | null) => boolean, onChange: () => void, debounceMs: number): FileWatch {
  let timer: NodeJS.Timeout | undefined;
  let rearm: NodeJS.Timeout | undefined;
  let closed = false;
  let lostWatch = false;
  const dirName = basename(dir);
  const changed = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const start = (): FSWatcher => {
    const lost = (): void => {
      w.close();
      // A late report about a watch already replaced must not start a second one.
      if (watcher !== w) return;
      lostWatch = true;
      scheduleRearm();
    };
    const w = watch(dir, { persistent: false }, (event, file) => {
      // inotify reports the watched directory's own removal as a rename of itself, then
      // stays silent for good: check whether the directory is still there.
      if (event === 'rename' && (file === null || file === dirName)) {
        stat(dir, (err) => {
          if (err && !closed) lost();
        });
      }
      if (relevant(file)) changed();
    });
    w.on('error', lost);
    return w;
  };
  const scheduleRearm = (): void => {
    if (closed || rearm) return;
    rearm = setTimeout(() => {
      rearm = undefined;
      if (closed) return;
      try {
        watcher = start();
      } catch {
        scheduleRearm(); // still gone: the next read reports it; try again later
        return;
      }
      lostWatch = false;
      changed();
    }, REARM_MS);
    rearm.unref();
  };
  // The first watch fails at once (a missing directory is the caller's error to report).
  let watcher: FSWatcher = start();
  return {
    get watching() {
      return !closed && !lostWatch;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (rearm) clearTimeout(rearm);
      watcher.close();
    },
  };
}
