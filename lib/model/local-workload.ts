/**
 * `kind: LocalWorkload` documents: which command runs a virtual node's app when `weft up` runs the
 * mesh on one machine. They sit beside the mesh's resources in the same files but are not part of
 * the mesh model: the compiler and the AWS front ends never see them, so a mesh file stays
 * deployable as it is. The loader reads them with the mesh and checks them here, against the mesh
 * they name, so `weft validate` reports their errors with file and line like any other.
 */
import { z } from 'zod';
import { errorIn, type ModelError } from './errors';
import type { MeshModel, SourceRef } from './schema';

export const LOCAL_WORKLOAD_KIND = 'LocalWorkload';

/** What the app of each replica gets besides `spec.env`; `spec.env` may not set these. */
export const RESERVED_WORKLOAD_ENV = ['PORT', 'HTTP_PROXY', 'http_proxy', 'NODE_USE_ENV_PROXY'] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const LocalWorkloadSpecSchema = z.strictObject({
  /** The app's argv: the program, then its arguments. Run without a shell, in the directory of `weft up`. */
  command: z.array(z.string().min(1)).min(1),
  /** How many copies run, each with its own sidecar. Default 1; 0 keeps the node's sidecars away. */
  replicas: z.number().int().min(0).max(32).default(1),
  /** Added to the environment `weft up` was started with. */
  env: z.record(z.string(), z.string()).default({}),
  /** A path `weft up` polls on the app until it answers 2xx or 3xx before it reports ready. Default: not polled. */
  healthPath: z.string().startsWith('/').optional(),
});
export type LocalWorkloadSpec = z.infer<typeof LocalWorkloadSpecSchema>;

export interface LocalWorkloadResource {
  kind: typeof LOCAL_WORKLOAD_KIND;
  /** The virtual node the app is. */
  name: string;
  meshName: string;
  spec: LocalWorkloadSpec;
  source: SourceRef;
}

/**
 * Checks workloads against their meshes: each names a virtual node of its mesh, at most one per
 * node, and does not contradict the node (static endpoints would be replaced by the replicas; a
 * health path needs a listener to poll). Workloads of meshes that did not load are skipped: their
 * mesh's own errors come first.
 */
export function checkWorkloads(workloads: readonly LocalWorkloadResource[], meshes: readonly MeshModel[]): { workloads: LocalWorkloadResource[]; errors: ModelError[] } {
  const errors: ModelError[] = [];
  const ok: LocalWorkloadResource[] = [];
  const byMesh = new Map(meshes.map((m) => [m.mesh.name, m]));
  const seen = new Map<string, LocalWorkloadResource>();
  for (const w of workloads) {
    const mesh = byMesh.get(w.meshName);
    if (mesh === undefined) continue;
    const fail = (path: string, message: string) => errors.push(errorIn(w.source, `${LOCAL_WORKLOAD_KIND}/${w.name}`, path, message));
    const node = mesh.virtualNodes.find((n) => n.name === w.name);
    if (node === undefined) {
      const known = mesh.virtualNodes.map((n) => n.name).sort();
      fail('metadata.name', `a LocalWorkload names a virtual node of mesh ${w.meshName}; known: ${known.length > 0 ? known.join(', ') : 'none'}, got: ${w.name}`);
      continue;
    }
    const key = `${w.meshName}\0${w.name}`;
    const first = seen.get(key);
    if (first !== undefined) {
      const line = first.source.lineOf?.('metadata.name');
      fail('metadata.name', `a virtual node has at most one LocalWorkload; first defined at ${first.source.file}${line !== undefined ? `:${line}` : ''}, got: ${w.name}`);
      continue;
    }
    seen.set(key, w);
    let valid = true;
    const sd = node.spec.serviceDiscovery;
    if (sd !== undefined && 'static' in sd) {
      fail('metadata.name', `virtual node ${w.name} lists static endpoints, which its LocalWorkload's replicas would replace; remove one of the two, got: ${w.name}`);
      valid = false;
    }
    if (w.spec.healthPath !== undefined && (node.spec.listeners ?? []).length === 0) {
      fail('spec.healthPath', `is polled on the app's port, and virtual node ${w.name} has no listener, got: ${w.spec.healthPath}`);
      valid = false;
    }
    for (const name of Object.keys(w.spec.env)) {
      if (!ENV_NAME.test(name)) {
        fail(`spec.env.${name}`, `must be an environment variable name (letters, digits and _, not starting with a digit), got: ${name}`);
        valid = false;
      } else if ((RESERVED_WORKLOAD_ENV as readonly string[]).includes(name)) {
        fail(`spec.env.${name}`, `is set by weft up for each replica (${RESERVED_WORKLOAD_ENV.join(', ')}), got: ${name}`);
        valid = false;
      }
    }
    if (valid) ok.push(w);
  }
  return { workloads: ok, errors };
}
