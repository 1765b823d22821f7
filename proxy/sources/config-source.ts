/**
 * Where node config documents come from. The file source serves local mode; an S3 source
 * (conditional GET with ETag, jittered polling) implements the same interface. A source only
 * delivers text: parsing, validation and the atomic switch belong to the {@link ConfigStore}.
 */
import { readFile } from 'node:fs/promises';
import { WeftError } from '../errors';
import { watchFile, type FileWatch } from './file-watch';

export const CONFIG_UNREADABLE = 'WEFT_ERR_CONFIG_UNREADABLE';

export interface ConfigSource {
  /** Where the config comes from, for logs and the admin endpoint. */
  readonly location: string;
  /** Reads the current document; rejects with a coded error when it cannot. */
  read(): Promise<string>;
  /**
   * Starts delivering changed documents to `onChange`, and failures to read them to `onError`
   * (the store keeps its last good config through both). `onRecovered` is called on the first
   * successful read after failures, also when the document did not change (an S3 304), so the
   * store stops reporting a read error that has passed.
   */
  watch(onChange: (text: string) => void, onError: (err: Error) => void, onRecovered?: () => void): void;
  close(): void;
}

/** A config file, re-read whenever it is written or replaced. */
export class FileConfigSource implements ConfigSource {
  private watcher: FileWatch | undefined;
  private last: string | undefined;

  constructor(readonly location: string) {}

  async read(): Promise<string> {
    try {
      this.last = await readFile(this.location, 'utf8');
      return this.last;
    } catch (err) {
      throw new WeftError(CONFIG_UNREADABLE, `cannot read node config ${this.location}: ${(err as Error).message}`);
    }
  }

  watch(onChange: (text: string) => void, onError: (err: Error) => void, onRecovered?: () => void): void {
    let failing = false;
    this.watcher = watchFile(this.location, () => {
      const before = this.last;
      this.read().then(
        (text) => {
          if (failing) onRecovered?.();
          failing = false;
          if (text !== before) onChange(text);
        },
        (err: Error) => {
          failing = true;
          onError(err);
        },
      );
    });
  }

  close(): void {
    this.watcher?.close();
  }
}
