/**
 * What the CLI commands (`weft validate`, `weft compile`, `weft up`) do with the meshes they
 * loaded: compile every one, collecting errors and warnings across all of them rather than
 * stopping at the first invalid mesh.
 */
import { compileMesh } from './compile';
import { MeshValidationError, type ModelError } from './errors';
import type { MeshModel } from './schema';
import { meshWarnings } from './validate';
import type { NodeConfig } from '../../proxy/contracts';

export interface CompiledSources {
  configs: NodeConfig[];
  /** The load errors given, then every mesh's validation errors. */
  errors: ModelError[];
  warnings: ModelError[];
}

/**
 * Compiles `meshes` (only the named `nodes`, when given; a mesh without any of them is skipped).
 * `sources` names what was read, for the error when it held no mesh at all.
 */
export function compileLoaded(meshes: readonly MeshModel[], loadErrors: readonly ModelError[], sources: readonly string[], nodes?: readonly string[]): CompiledSources {
  const errors = [...loadErrors];
  const configs: NodeConfig[] = [];
  const warnings: ModelError[] = [];
  for (const mesh of meshes) {
    const here = nodes?.filter((n) => mesh.virtualNodes.some((v) => v.name === n) || mesh.virtualGateways.some((g) => g.name === n));
    if (here && here.length === 0) continue;
    warnings.push(...meshWarnings(mesh));
    try {
      configs.push(...compileMesh(mesh, { nodes: here }));
    } catch (err) {
      if (!(err instanceof MeshValidationError)) throw err;
      errors.push(...err.errors);
    }
  }
  if (errors.length === 0 && meshes.length === 0) errors.push({ file: sources.join(', '), path: '', message: 'no mesh found: the sources define no Mesh resource' });
  return { configs, errors, warnings };
}
