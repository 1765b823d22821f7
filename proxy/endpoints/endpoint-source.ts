/**
 * Dynamic endpoints, kept apart from the static config as Envoy keeps EDS apart from CDS. A
 * cluster's `discovery` says where its endpoints come from; an {@link EndpointSource} turns that
 * into addresses and tells the cluster whenever they change. Static lists and DNS names resolve
 * here directly; Cloud Map discovery is delegated (the local endpoints file here, the Cloud Map
 * API in AWS).
 */
import type { Cluster } from '../contracts';
import type { DiscoveredEndpoint } from './endpoint';

export type { DiscoveredEndpoint };

export interface EndpointSource {
  /**
   * Starts following `cluster`'s endpoints. `onUpdate` receives each complete new set, the first
   * one possibly before `watch` returns. Returns the function that stops following.
   */
  watch(cluster: Cluster, onUpdate: (endpoints: readonly DiscoveredEndpoint[]) => void): () => void;
  /** Refreshes that failed since start and when one last succeeded (ms since the epoch); only sources that poll have it. */
  health?(): DiscoveryHealth | undefined;
  close(): void;
}

export interface DiscoveryHealth {
  errors: number;
  /** Undefined before the first good refresh. */
  lastSuccessAt: number | undefined;
}

/**
 * Resolves `static` and `dns` discovery itself and hands `cloudMap` discovery to `cloudMap`
 * (the endpoints file in local mode, the Cloud Map API in AWS).
 */
export class DiscoveryRouter implements EndpointSource {
  constructor(private readonly cloudMap: EndpointSource) {}

  watch(cluster: Cluster, onUpdate: (endpoints: readonly DiscoveredEndpoint[]) => void): () => void {
    const d = cluster.discovery;
    switch (d.type) {
      case 'static':
        onUpdate(
          d.endpoints.map((e) => ({ id: `${e.address}:${e.port}`, address: e.address, port: e.port, zone: e.zone, weight: e.weight, healthy: true })),
        );
        return () => {};
      case 'dns': {
        // LOADBALANCER and ENDPOINTS both dial the name: the pool's connector resolves it per
        // connection, which follows DNS changes without a resolver loop of our own.
        const port = d.port ?? cluster.port;
        onUpdate([{ id: `${d.hostname}:${port}`, address: d.hostname, port, zone: undefined, weight: 1, healthy: true }]);
        return () => {};
      }
      case 'cloudMap':
        return this.cloudMap.watch(cluster, onUpdate);
    }
  }

  health(): DiscoveryHealth | undefined {
    return this.cloudMap.health?.();
  }

  close(): void {
    this.cloudMap.close();
  }
}
