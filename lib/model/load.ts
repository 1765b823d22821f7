/**
 * Loading meshes from source files: every document of every file goes to the front end its shape
 * calls for (Weft YAML, App Mesh `describe-*` JSON, CloudFormation; local mode's endpoints files
 * are checked and add nothing), each spec is checked against the model's schema, resources are
 * assigned to their mesh and grouped. Every error of every file is collected; a mesh is returned
 * only when all of its resources loaded, so later stages never see half a mesh.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelError } from './errors';
import { readAppMeshDescribeDocument, isAppMeshDescribeDocument } from './front-ends/app-mesh-json';
import { isCloudFormationDocument, readCloudFormationTemplate } from './front-ends/cloudformation';
import { isEndpointsDocument, readEndpointsDocument } from './front-ends/endpoints-file';
import { type FrontEndResult, type RawResource, frontEndError, show } from './front-ends/raw-resource';
import { checkSpec } from './front-ends/spec-issues';
import { isWeftDocument, readWeftDocument } from './front-ends/weft';
import { type Node } from 'yaml';
import { type SourceDocument, nodeLine, parseSource } from './front-ends/yaml-source';
import { type MeshModel, type Resource, SPEC_SCHEMAS } from './schema';
import { addToMeshModel, emptyMeshModel } from './mesh-model';
import { LOCAL_WORKLOAD_KIND, LocalWorkloadSpecSchema, checkWorkloads, type LocalWorkloadResource } from './local-workload';

/** One source file's name and contents. */
export interface SourceText {
  file: string;
  text: string;
}

export interface LoadResult {
  /** Meshes all of whose resources loaded, in order of first appearance. */
  meshes: MeshModel[];
  /** LocalWorkload documents (kept apart from the meshes, which stay deployable) of those meshes, each checked against its mesh. */
  workloads: LocalWorkloadResource[];
  /** Every syntax, shape and schema error of every source. */
  errors: ModelError[];
}

const SOURCE_EXTENSIONS = /\.(ya?ml|json)$/i;

/** Reads mesh sources from text. Pure: no I/O. */
export function loadMeshSources(sources: SourceText[]): LoadResult {
  const errors: ModelError[] = [];
  const raw: RawResource[] = [];
  const failed: FrontEndResult['failed'] = [];
  const collect = (r: FrontEndResult) => {
    raw.push(...r.resources);
    errors.push(...r.errors);
    failed.push(...r.failed);
  };
  for (const { file, text } of sources) {
    const parsed = parseSource(text);
    for (const e of parsed.errors) errors.push({ file, line: e.line, document: e.document, path: '', message: e.message });
    if (parsed.errors.length > 0) failed.push(undefined);
    const broken = new Set(parsed.errors.map((e) => e.document));
    const cfn: { root: Node; src: SourceDocument }[] = [];
    for (const src of parsed.documents) {
      const root = src.doc.contents as Node | null;
      if (broken.has(src.index) || root === null || (root.toJSON() as unknown) === null) continue;
      if (isWeftDocument(root, src)) collect(readWeftDocument(root, src, file));
      else if (isAppMeshDescribeDocument(root, src)) collect(readAppMeshDescribeDocument(root, src, file));
      else if (isCloudFormationDocument(root, src)) cfn.push({ root, src });
      else if (isEndpointsDocument(root, src)) collect(readEndpointsDocument(root, src, file));
      else {
        failed.push(undefined);
        const got = show(root.toJSON()).slice(0, 80);
        const message = `not a Weft resource (apiVersion, kind), an App Mesh describe-* output or a CloudFormation template, got: ${got}`;
        errors.push(frontEndError(file, src.index, nodeLine(root, src), undefined, '', message));
      }
    }
    if (cfn.length > 0) collect(readCloudFormationTemplate(cfn, file));
  }
  const result = assemble(raw, errors, failed);
  // Report in source order, whatever stage found the problem.
  const fileOrder = new Map(sources.map((s, i) => [s.file, i]));
  result.errors.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  return result;
}

/** Reads mesh sources from files and directories (recursively: `*.yaml`, `*.yml`, `*.json`, sorted). */
export async function loadMeshFiles(paths: string[]): Promise<LoadResult> {
  const files: string[] = [];
  // The same file named twice (`examples/ examples/`, a directory and a file in it, a symlink) is
  // read once: otherwise every resource in it would be its own duplicate.
  const seen = new Set<string>();
  for (const p of paths) {
    for (const file of await sourceFiles(p)) {
      const real = await realpath(file);
      if (seen.has(real)) continue;
      seen.add(real);
      files.push(file);
    }
  }
  const sources = await Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  return loadMeshSources(sources);
}

async function sourceFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (e.isFile() && SOURCE_EXTENSIONS.test(e.name)) out.push(full);
  }
  return out;
}

const label = (r: Pick<RawResource, 'kind' | 'name'>) => `${r.kind}/${r.name}`;
const rawError = (r: RawResource, path: string, message: string): ModelError =>
  frontEndError(r.source.file, r.source.document ?? 0, r.source.lineOf(path), label(r), path, message);

/** Checks specs, assigns meshes, rejects duplicates and groups resources into meshes. */
function assemble(raw: RawResource[], errors: ModelError[], failed: FrontEndResult['failed']): LoadResult {
  const meshNames = [...new Set(raw.filter((r) => r.kind === 'Mesh').map((r) => r.name))];
  const models = new Map<string, MeshModel>();
  const incomplete = new Set<string>();
  const seen = new Map<string, RawResource>();

  // Meshes first, so that resources placed before their mesh in the sources still find it.
  const ordered = [...raw.filter((r) => r.kind === 'Mesh'), ...raw.filter((r) => r.kind !== 'Mesh')];
  const workloads: LocalWorkloadResource[] = [];
  const meshOf = (r: RawResource): string | undefined => {
    const meshName = r.kind === 'Mesh' ? r.name : (r.meshName ?? (meshNames.length === 1 ? meshNames[0] : undefined));
    if (meshName === undefined) {
      errors.push(rawError(r, 'metadata.mesh', `the mesh must be named when the sources define ${meshNames.length === 0 ? 'no mesh' : `${meshNames.length} meshes (${meshNames.join(', ')})`}`));
    }
    return meshName;
  };
  for (const r of ordered) {
    if (r.kind === LOCAL_WORKLOAD_KIND) {
      const w = readWorkload(r, meshOf(r), meshNames, errors);
      if (w !== undefined) workloads.push(w);
      continue;
    }
    const meshName = meshOf(r);
    if (meshName === undefined) {
      // It may have been meant for any of them.
      failed.push(undefined);
      continue;
    }
    const parent = r.kind === 'Route' ? `${r.virtualRouterName}/` : r.kind === 'GatewayRoute' ? `${r.virtualGatewayName}/` : '';
    const key = `${meshName}\0${r.kind}\0${parent}${r.name}`;
    const first = seen.get(key);
    if (first) {
      const where = `${first.source.file}${first.source.lineOf('metadata.name') !== undefined ? `:${first.source.lineOf('metadata.name')}` : ''}`;
      const scope = r.kind === 'Route' ? `virtual router ${r.virtualRouterName}` : r.kind === 'GatewayRoute' ? `virtual gateway ${r.virtualGatewayName}` : `mesh ${meshName}`;
      errors.push(rawError(r, 'metadata.name', `${r.kind} names must be unique in ${scope}; first defined at ${where}, got: ${r.name}`));
      incomplete.add(meshName);
      continue;
    }
    seen.set(key, r);
    const checked = checkSpec(SPEC_SCHEMAS[r.kind], r.spec, 'spec');
    if ('issues' in checked) {
      for (const i of checked.issues) errors.push(rawError(r, i.path, i.message));
      incomplete.add(meshName);
      continue;
    }
    const resource = { kind: r.kind, name: r.name, meshName, spec: checked.data, source: r.source } as Resource;
    if (resource.kind === 'Route') resource.virtualRouterName = r.virtualRouterName ?? '';
    if (resource.kind === 'GatewayRoute') resource.virtualGatewayName = r.virtualGatewayName ?? '';
    if (resource.kind === 'Mesh') {
      models.set(meshName, emptyMeshModel(resource));
      continue;
    }
    const model = models.get(meshName);
    if (!model) {
      // A mesh that is defined but did not load has its own errors; one per resource in it would bury them.
      if (!meshNames.includes(meshName)) errors.push(rawError(r, 'metadata.mesh', `the mesh is not defined in the sources${meshNames.length > 0 ? ` (defined: ${meshNames.join(', ')})` : ''}, got: ${meshName}`));
      continue;
    }
    addToMeshModel(model, resource);
  }
  for (const meshName of failed) {
    if (meshName !== undefined) incomplete.add(meshName);
    else for (const m of models.keys()) incomplete.add(m);
  }
  const meshes = [...models.values()].filter((m) => !incomplete.has(m.mesh.name));
  const checked = checkWorkloads(workloads, meshes);
  errors.push(...checked.errors);
  return { meshes, workloads: checked.workloads, errors };
}

/** A LocalWorkload with its spec checked, or undefined (its errors collected). */
function readWorkload(r: RawResource, meshName: string | undefined, meshNames: string[], errors: ModelError[]): LocalWorkloadResource | undefined {
  if (meshName === undefined) return undefined;
  if (!meshNames.includes(meshName)) {
    errors.push(rawError(r, 'metadata.mesh', `the mesh is not defined in the sources${meshNames.length > 0 ? ` (defined: ${meshNames.join(', ')})` : ''}, got: ${meshName}`));
    return undefined;
  }
  const checked = checkSpec(LocalWorkloadSpecSchema, r.spec, 'spec');
  if ('issues' in checked) {
    for (const i of checked.issues) errors.push(rawError(r, i.path, i.message));
    return undefined;
  }
  return { kind: LOCAL_WORKLOAD_KIND, name: r.name, meshName, spec: checked.data, source: r.source };
}
