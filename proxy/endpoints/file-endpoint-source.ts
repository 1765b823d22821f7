/**
 * Local mode's Cloud Map: a watched JSON file of Cloud Map-shaped instances keyed by
 * `<namespaceName>/<serviceName>` (EndpointsFileSchema). Instances are filtered by the
 * cluster's attribute filter exactly as DiscoverInstances' QueryParameters would, and addressed
 * by `AWS_INSTANCE_IPV4`:`AWS_INSTANCE_PORT`. A bad file keeps the last good endpoints.
 */
import { readFile } from 'node:fs/promises';
import type { EndpointsFile } from '../contracts/mesh-documents';
import { endpointsFileKey, parseEndpointsFile } from '../contracts/mesh-layout';
import type { Cluster } from '../contracts/node-config';
import { watchFile, type FileWatch } from '../sources/file-watch';
import type { Logger } from '../log';
import type { DiscoveredEndpoint, EndpointSource } from './endpoint-source';
import { endpointFromInstance, matchesAttributes } from './instance-endpoint';

interface Watcher {
  cluster: Cluster;
  onUpdate: (endpoints: readonly DiscoveredEndpoint[]) => void;
}

export class FileEndpointSource implements EndpointSource {
  private file: EndpointsFile | undefined;
  private readonly watchers = new Set<Watcher>();
  private watch_: FileWatch | undefined;
  /** Reads started so far: a read that a newer one overtook is dropped, not applied over it. */
  private reads = 0;
  /** Last error reading the file, for the admin endpoint. */
  lastError: string | undefined;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** Reads the file once and starts watching it. A missing or bad file is logged, not fatal. */
  async start(): Promise<void> {
    await this.reload();
    this.watch_ = watchFile(this.path, () => void this.reload());
  }

  watch(cluster: Cluster, onUpdate: (endpoints: readonly DiscoveredEndpoint[]) => void): () => void {
    const w: Watcher = { cluster, onUpdate };
    this.watchers.add(w);
    onUpdate(this.resolve(cluster));
    return () => this.watchers.delete(w);
  }

  close(): void {
    this.watch_?.close();
    this.watchers.clear();
  }

  private async reload(): Promise<void> {
    const read = ++this.reads;
    try {
      const text = await readFile(this.path, 'utf8');
      if (read !== this.reads) return;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw Object.assign(new Error(`${this.path}: not JSON: ${(err as Error).message}`), { code: 'WEFT_ERR_ENDPOINTS_INVALID' });
      }
      this.file = parseEndpointsFile(json, this.path);
      this.lastError = undefined;
    } catch (err) {
      if (read !== this.reads) return;
      this.lastError = (err as Error).message;
      this.logger.log('warn', 'endpoints_file_rejected', { path: this.path, code: (err as { code?: string }).code, message: this.lastError });
      return;
    }
    for (const w of this.watchers) w.onUpdate(this.resolve(w.cluster));
  }

  private resolve(cluster: Cluster): DiscoveredEndpoint[] {
    const d = cluster.discovery;
    if (d.type !== 'cloudMap' || !this.file) return [];
    const instances = this.file.services[endpointsFileKey(d.namespaceName, d.serviceName)] ?? [];
    const out: DiscoveredEndpoint[] = [];
    for (const inst of instances) {
      if (!matchesAttributes(inst.attributes, d.attributes)) continue;
      const endpoint = endpointFromInstance(inst);
      if (endpoint) out.push(endpoint);
    }
    return out;
  }
}
