/**
 * Watches one file for replacement or modification. Watches the parent directory rather than the
 * file, because config writers (and Kubernetes/ECS volume updaters) replace files by rename, which
 * a watch on the old inode would miss, or swap a `..data` symlink the file points through.
 * Bursts of events are coalesced into one callback.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
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

/** Watches `dir`, coalescing bursts of events for files `relevant` accepts into one `onChange`. */
function debouncedWatch(dir: string, relevant: (file: string | null) => boolean, onChange: () => void, debounceMs: number): FileWatch {
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dir, { persistent: false }, (_event, file) => {
    if (!relevant(file)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  });
  // A vanished directory is reported through the next read; the watch itself just stops.
  watcher.on('error', () => watcher.close());
  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
