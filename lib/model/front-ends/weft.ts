/**
 * Weft's own documents: `apiVersion: weft.dev/v1alpha1`, a `kind` from the mesh model, `metadata`
 * naming the resource and its parents, and a `spec` in the App Mesh API's JSON shape.
 */
import { type Node } from 'yaml';
import { LOCAL_WORKLOAD_KIND } from '../local-workload';
import { RESOURCE_KINDS } from '../schema';
import { type FrontEndResult, type RawResource, frontEndError, show } from './raw-resource';
import { LineMap, type SourceDocument, type WalkError, keysOf, nodeLine, toPlain } from './yaml-source';

export const WEFT_API_VERSION = 'weft.dev/v1alpha1';

/** The kinds a Weft document may have: the mesh model's, and local mode's LocalWorkload. */
const DOCUMENT_KINDS: readonly string[] = [...RESOURCE_KINDS, LOCAL_WORKLOAD_KIND];
type DocumentKind = RawResource['kind'];

const TOP_LEVEL_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec'];
const METADATA_FIELDS = ['name', 'mesh', 'virtualRouter', 'virtualGateway', 'labels'];

/** A document is a Weft resource when it says `apiVersion` or `kind`. */
export function isWeftDocument(root: Node, src: SourceDocument): boolean {
  return keysOf(root, src).some((k) => k.key === 'apiVersion' || k.key === 'kind');
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one Weft document. */
export function readWeftDocument(root: Node, src: SourceDocument, file: string): FrontEndResult {
  const lines = new LineMap(nodeLine(root, src) ?? 1);
  const walkErrors: WalkError[] = [];
  const doc = toPlain(root, '', '', { src, lines, errors: walkErrors }) as Record<string, unknown>;
  const { kind, metadata } = doc;
  const name = isRecord(metadata) && typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : undefined;
  const knownKind = typeof kind === 'string' && DOCUMENT_KINDS.includes(kind);
  const label = knownKind && name !== undefined ? `${kind as string}/${name}` : undefined;
  const errors = walkErrors.map((w) => frontEndError(file, src.index, w.line, label, w.sourcePath, w.message));
  const fail = (path: string, message: string) => errors.push(frontEndError(file, src.index, lines.lineOf(path), label, path, message));

  for (const key of Object.keys(doc)) if (!TOP_LEVEL_FIELDS.includes(key)) fail(key, `unknown field '${key}'; a Weft document has apiVersion, kind, metadata and spec`);
  if (doc.apiVersion !== WEFT_API_VERSION) fail('apiVersion', `apiVersion must be ${WEFT_API_VERSION}, got: ${show(doc.apiVersion)}`);
  if (!knownKind) fail('kind', `kind must be one of ${DOCUMENT_KINDS.join(', ')}, got: ${show(kind)}`);

  if (!isRecord(metadata)) {
    fail('metadata', `metadata with a name is required, got: ${show(metadata)}`);
    return { resources: [], errors, failed: [undefined] };
  }
  for (const key of Object.keys(metadata)) {
    if (!METADATA_FIELDS.includes(key)) fail(`metadata.${key}`, `unknown field '${key}'; metadata has ${METADATA_FIELDS.join(', ')}`);
  }
  if (name === undefined) fail('metadata.name', `metadata.name must be a non-empty string, got: ${show(metadata.name)}`);
  else if (name.length > 255) fail('metadata.name', `metadata.name must be at most 255 characters, got: ${name.length}`);
  const optionalString = (field: string): string | undefined => {
    const v = metadata[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') fail(`metadata.${field}`, `metadata.${field} must be a non-empty string, got: ${show(v)}`);
    return typeof v === 'string' ? v : undefined;
  };
  const meshName = optionalString('mesh');
  const virtualRouterName = optionalString('virtualRouter');
  const virtualGatewayName = optionalString('virtualGateway');
  if (metadata.labels !== undefined && !(isRecord(metadata.labels) && Object.values(metadata.labels).every((v) => typeof v === 'string'))) {
    fail('metadata.labels', `metadata.labels must map names to strings, got: ${show(metadata.labels)}`);
  }
  if (knownKind) {
    const k = kind as DocumentKind;
    if (k === 'Mesh' && meshName !== undefined) fail('metadata.mesh', `a Mesh is not inside a mesh; remove metadata.mesh, got: ${meshName}`);
    if (k === 'Route' && virtualRouterName === undefined && metadata.virtualRouter === undefined) {
      fail('metadata.virtualRouter', 'a Route needs metadata.virtualRouter, the virtual router it belongs to');
    }
    if (k !== 'Route' && metadata.virtualRouter !== undefined) fail('metadata.virtualRouter', `only a Route has metadata.virtualRouter, got: ${show(metadata.virtualRouter)}`);
    if (k === 'GatewayRoute' && virtualGatewayName === undefined && metadata.virtualGateway === undefined) {
      fail('metadata.virtualGateway', 'a GatewayRoute needs metadata.virtualGateway, the virtual gateway it belongs to');
    }
    if (k !== 'GatewayRoute' && metadata.virtualGateway !== undefined) {
      fail('metadata.virtualGateway', `only a GatewayRoute has metadata.virtualGateway, got: ${show(metadata.virtualGateway)}`);
    }
  }
  if (errors.length > 0 || !knownKind || name === undefined) return { resources: [], errors, failed: [kind === 'Mesh' ? name : meshName] };

  const resource: RawResource = {
    kind: kind as DocumentKind,
    name,
    spec: doc.spec ?? {},
    source: { file, document: src.index, lineOf: lines.lineOf },
  };
  if (meshName !== undefined) resource.meshName = meshName;
  if (virtualRouterName !== undefined) resource.virtualRouterName = virtualRouterName;
  if (virtualGatewayName !== undefined) resource.virtualGatewayName = virtualGatewayName;
  return { resources: [resource], errors, failed: [] };
}
