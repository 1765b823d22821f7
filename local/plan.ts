/**
 * What `weft up` runs for a loaded mesh, decided without I/O: one unit per replica of each node
 * that has a LocalWorkload (its sidecar and its app) and one per virtual gateway (a sidecar), and
 * the documents that follow from the running units (the endpoints file, the ports file). The
 * runner compares the units of a new mesh with the running ones by key and fingerprint.
 */
import type { LocalWorkloadResource, LocalWorkloadSpec } from '../lib/model/local-workload';
import type { MeshModel, VirtualNodeResource } from '../lib/model/schema';
import { CLOUD_MAP_ATTRIBUTES, ENDPOINTS_FILE_SCHEMA, endpointsFileKey, type EndpointInstance, type EndpointsFile } from '../proxy/contracts';

/**
 * The Cloud Map namespace that stands for a workload node's discovery when the node has none or
 * DNS: the node's replicas are listed under `local/<node>` in the endpoints file.
 */
export const LOCAL_NAMESPACE = 'local';

export interface UnitSpec {
  /** `<node>/<replica>` or `<gateway>`: unique across the meshes `weft up` runs. */
  key: string;
  kind: 'node' | 'gateway';
  mesh: string;
  node: string;
  replica: number;
  /** The node's or gateway's listener ports, in order (the app gets one port per node listener). */
  listenerPorts: number[];
  workload?: LocalWorkloadSpec;
  /** Where callers find this node's replicas (nodes only). */
  discovery?: { namespaceName: string; serviceName: string; attributes: Record<string, string> };
  /** Changes when the unit must be restarted to apply the new mesh. */
  fingerprint: string;
}

/** Ports a running unit was given. Nodes: inbound, egress, admin, metrics and one app port per listener; gateways: admin, metrics and one per listener. */
export interface UnitPorts {
  admin: number;
  metrics: number;
  inbound?: number;
  egress?: number;
  /** Node listener port (or gateway listener port) -> the port bound for it. */
  listeners: Record<number, number>;
}

/**
 * The meshes as `weft up` compiles them: a node with a workload and no Cloud Map discovery is
 * given `awsCloudMap {namespaceName: local, serviceName: <node>}`, so that callers find its
 * replicas in the endpoints file (a DNS name would be dialled as written).
 */
export function localMeshes(meshes: readonly MeshModel[], workloads: readonly LocalWorkloadResource[]): MeshModel[] {
  return meshes.map((m) => {
    const mine = new Set(workloads.filter((w) => w.meshName === m.mesh.name).map((w) => w.name));
    const virtualNodes = m.virtualNodes.map((n): VirtualNodeResource => {
      const sd = n.spec.serviceDiscovery;
      if (!mine.has(n.name) || (sd !== undefined && 'awsCloudMap' in sd)) return n;
      return { ...n, spec: { ...n.spec, serviceDiscovery: { awsCloudMap: { namespaceName: LOCAL_NAMESPACE, serviceName: n.name } } } };
    });
    return { ...m, virtualNodes };
  });
}

/** The units of `meshes` (as {@link localMeshes} returns them), or the names that collide across meshes. */
export function desiredUnits(meshes: readonly MeshModel[], workloads: readonly LocalWorkloadResource[]): { units: UnitSpec[]; collisions: string[] } {
  const units: UnitSpec[] = [];
  const owner = new Map<string, string>();
  const collisions: string[] = [];
  const claim = (name: string, mesh: string): void => {
    const first = owner.get(name);
    if (first !== undefined && first !== mesh) collisions.push(`${name} (meshes ${first} and ${mesh})`);
    owner.set(name, mesh);
  };
  for (const m of meshes) {
    for (const g of m.virtualGateways) {
      claim(g.name, m.mesh.name);
      const listenerPorts = g.spec.listeners.map((l) => l.portMapping.port);
      units.push({ key: g.name, kind: 'gateway', mesh: m.mesh.name, node: g.name, replica: 0, listenerPorts, fingerprint: JSON.stringify(listenerPorts) });
    }
    for (const w of workloads.filter((x) => x.meshName === m.mesh.name)) {
      const node = m.virtualNodes.find((n) => n.name === w.name);
      if (node === undefined) continue;
      claim(w.name, m.mesh.name);
      const listenerPorts = (node.spec.listeners ?? []).map((l) => l.portMapping.port);
      const sd = node.spec.serviceDiscovery;
      const cm = sd !== undefined && 'awsCloudMap' in sd ? sd.awsCloudMap : { namespaceName: LOCAL_NAMESPACE, serviceName: w.name, attributes: [] };
      const discovery = { namespaceName: cm.namespaceName, serviceName: cm.serviceName, attributes: Object.fromEntries((cm.attributes ?? []).map((a) => [a.key, a.value])) };
      // The replica count is not part of it: raising it starts only the new replicas.
      const fingerprint = JSON.stringify([{ ...w.spec, replicas: undefined }, listenerPorts, discovery]);
      for (let replica = 0; replica < w.spec.replicas; replica++) {
        units.push({ key: `${w.name}/${replica}`, kind: 'node', mesh: m.mesh.name, node: w.name, replica, listenerPorts, workload: w.spec, discovery, fingerprint });
      }
    }
  }
  return { units, collisions };
}

/** What changes between the running units and the desired ones. */
export function diffUnits(running: ReadonlyMap<string, UnitSpec>, desired: readonly UnitSpec[]): { start: UnitSpec[]; stop: UnitSpec[]; keep: UnitSpec[] } {
  const wanted = new Map(desired.map((u) => [u.key, u]));
  const stop = [...running.values()].filter((u) => wanted.get(u.key)?.fingerprint !== u.fingerprint);
  const start = desired.filter((u) => running.get(u.key)?.fingerprint !== u.fingerprint);
  const keep = desired.filter((u) => running.get(u.key)?.fingerprint === u.fingerprint);
  return { start, stop, keep };
}

/** The endpoints file: every node replica, Cloud Map-shaped, under its node's discovery. */
export function endpointsFile(units: readonly { spec: UnitSpec; ports: UnitPorts }[]): EndpointsFile {
  const services: Record<string, EndpointInstance[]> = {};
  for (const { spec, ports } of units) {
    if (spec.kind !== 'node' || spec.discovery === undefined || ports.inbound === undefined) continue;
    const key = endpointsFileKey(spec.discovery.namespaceName, spec.discovery.serviceName);
    (services[key] ??= []).push({
      instanceId: `${spec.node}-${spec.replica}`,
      attributes: {
        ...spec.discovery.attributes,
        [CLOUD_MAP_ATTRIBUTES.ipv4]: '127.0.0.1',
        [CLOUD_MAP_ATTRIBUTES.port]: String(ports.inbound),
        [CLOUD_MAP_ATTRIBUTES.node]: spec.node,
        [CLOUD_MAP_ATTRIBUTES.mesh]: spec.mesh,
      },
      healthStatus: 'HEALTHY',
    });
  }
  return { schema: ENDPOINTS_FILE_SCHEMA, services };
}

export interface PortsFile {
  nodes: Record<string, { egress: number; inbound: number; admin: number; app: number | null }[]>;
  gateways: Record<string, Record<string, number>>;
}

/** The ports file (`--ports-file`): each replica's sidecar and app ports, each gateway listener's port. */
export function portsFile(units: readonly { spec: UnitSpec; ports: UnitPorts }[]): PortsFile {
  const out: PortsFile = { nodes: {}, gateways: {} };
  for (const { spec, ports } of [...units].sort((a, b) => a.spec.replica - b.spec.replica)) {
    if (spec.kind === 'gateway') {
      out.gateways[spec.node] = Object.fromEntries(spec.listenerPorts.map((p) => [String(p), ports.listeners[p]]));
      continue;
    }
    const app = spec.listenerPorts.length > 0 ? ports.listeners[spec.listenerPorts[0]] : null;
    (out.nodes[spec.node] ??= []).push({ egress: ports.egress!, inbound: ports.inbound!, admin: ports.admin, app });
  }
  return out;
}
