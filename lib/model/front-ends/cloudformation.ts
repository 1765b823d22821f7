/**
 * CloudFormation templates (YAML with short-form tags, or JSON): every `AWS::AppMesh::*` resource
 * becomes a model resource, its PascalCase properties turned into the App Mesh API's camelCase.
 * All CloudFormation documents of one file form one template, so the multi-document snippets people
 * paste (one resource per `---` document, no `Resources:` wrapper) load as well.
 *
 * Only what can be known offline is resolved: `Ref`/`GetAtt` to another App Mesh resource of the
 * same template gives that resource's name. Weft resolves `Ref` to the name (not the ARN
 * CloudFormation returns) because the model links resources by name. Anything else is an error.
 */
import { type Node, isMap, isScalar } from 'yaml';
import { type ResourceKind } from '../schema';
import { type FrontEndResult, type RawResource, frontEndError, show } from './raw-resource';
import {
  type IntrinsicResult,
  LineMap,
  type SourceDocument,
  type WalkError,
  entryOf,
  joinPath,
  keysOf,
  toPlain,
} from './yaml-source';

const TEMPLATE_SECTIONS = ['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Mappings', 'Conditions', 'Transform', 'Rules', 'Outputs', 'Resources'];

interface TypeInfo {
  kind: ResourceKind;
  nameProperty: string;
  parentProperty?: 'VirtualRouterName' | 'VirtualGatewayName';
}
const APP_MESH_TYPES: Record<string, TypeInfo> = {
  'AWS::AppMesh::Mesh': { kind: 'Mesh', nameProperty: 'MeshName' },
  'AWS::AppMesh::VirtualNode': { kind: 'VirtualNode', nameProperty: 'VirtualNodeName' },
  'AWS::AppMesh::VirtualService': { kind: 'VirtualService', nameProperty: 'VirtualServiceName' },
  'AWS::AppMesh::VirtualRouter': { kind: 'VirtualRouter', nameProperty: 'VirtualRouterName' },
  'AWS::AppMesh::Route': { kind: 'Route', nameProperty: 'RouteName', parentProperty: 'VirtualRouterName' },
  'AWS::AppMesh::VirtualGateway': { kind: 'VirtualGateway', nameProperty: 'VirtualGatewayName' },
  'AWS::AppMesh::GatewayRoute': { kind: 'GatewayRoute', nameProperty: 'GatewayRouteName', parentProperty: 'VirtualGatewayName' },
};

/** CloudFormation keys whose camelCase is not just the first letter lowercased. */
const KEY_EXCEPTIONS: Record<string, string> = {
  AWSCloudMap: 'awsCloudMap',
  DNS: 'dns',
  ACM: 'acm',
  SDS: 'sds',
  TLS: 'tls',
  HTTP: 'http',
  HTTP2: 'http2',
  GRPC: 'grpc',
  TCP: 'tcp',
};

/** Turns a CloudFormation property key into the App Mesh API's JSON key. */
export function cfnKeyToModel(key: string): string {
  return KEY_EXCEPTIONS[key] ?? key.charAt(0).toLowerCase() + key.slice(1);
}

const typeOf = (value: Node | null | undefined): unknown => (isScalar(value) ? value.value : undefined);

/** A document is a CloudFormation template (or a fragment of its Resources) by its keys or its resources' `Type`. */
export function isCloudFormationDocument(root: Node, src: SourceDocument): boolean {
  const keys = keysOf(root, src);
  if (keys.some((k) => k.key === 'Resources' || k.key === 'AWSTemplateFormatVersion')) return true;
  return keys.length > 0 && keys.every((k) => {
    const value = entryOf(root, k.key, src)?.node;
    const t = value ? typeOf(entryOf(value, 'Type', src)?.node) : undefined;
    return typeof t === 'string' && t.includes('::');
  });
}

interface TemplateResource {
  logicalId: string;
  type: string;
  info?: TypeInfo;
  /** `Resources.X` in a full template, `X` in a fragment. */
  path: string;
  node: Node;
  properties: Node | null;
  src: SourceDocument;
  /** Line of the logical id. */
  line: number | undefined;
  /** Line of `Properties:` (or of the logical id without it). */
  propertiesLine: number | undefined;
}

/** Reads the CloudFormation documents of one file as one template. */
export function readCloudFormationTemplate(docs: { root: Node; src: SourceDocument }[], file: string): FrontEndResult {
  const errors: FrontEndResult['errors'] = [];
  const failed: FrontEndResult['failed'] = [];
  const byId = new Map<string, TemplateResource>();
  const parameters = new Set<string>();
  for (const { root, src } of docs) {
    const params = entryOf(root, 'Parameters', src)?.node;
    if (params) for (const p of keysOf(params, src)) parameters.add(p.key);
    const hasResources = keysOf(root, src).some((k) => k.key === 'Resources' || k.key === 'AWSTemplateFormatVersion');
    const section = hasResources ? entryOf(root, 'Resources', src)?.node ?? null : root;
    const prefix = hasResources ? 'Resources' : '';
    if (hasResources) {
      for (const k of keysOf(root, src)) {
        if (!TEMPLATE_SECTIONS.includes(k.key)) errors.push(frontEndError(file, src.index, k.line, undefined, k.key, `unknown template section '${k.key}'`));
      }
    }
    if (!section || !isMap(section)) continue;
    for (const { key: logicalId, line } of keysOf(section, src)) {
      const node = entryOf(section, logicalId, src)?.node;
      const path = joinPath(prefix, logicalId);
      const type = node ? typeOf(entryOf(node, 'Type', src)?.node) : undefined;
      if (!node || !isMap(node) || typeof type !== 'string') {
        errors.push(frontEndError(file, src.index, line, undefined, joinPath(path, 'Type'), `a template resource needs a Type, got: ${show(node?.toJSON())}`));
        continue;
      }
      if (byId.has(logicalId)) {
        errors.push(frontEndError(file, src.index, line, undefined, path, `logical id ${logicalId} is defined twice in this template`));
        continue;
      }
      const info = APP_MESH_TYPES[type];
      if (!info && type.startsWith('AWS::AppMesh::')) {
        const typeLine = entryOf(node, 'Type', src)?.keyLine ?? line;
        errors.push(frontEndError(file, src.index, typeLine, undefined, joinPath(path, 'Type'), `unsupported App Mesh resource type, got: ${type}`));
        continue;
      }
      const propertiesEntry = entryOf(node, 'Properties', src);
      byId.set(logicalId, { logicalId, type, info, path, node, properties: propertiesEntry?.node ?? null, src, line, propertiesLine: propertiesEntry?.keyLine ?? line });
    }
  }

  // Name resolution follows Ref/GetAtt chains (a node's MeshName is often `!Ref Mesh`).
  const resolving = new Set<string>();
  const resolveProperty = (r: TemplateResource, property: string): IntrinsicResult => {
    const entry = r.properties ? entryOf(r.properties, property, r.src) : undefined;
    if (!entry?.node) return { error: `${r.logicalId} has no ${property}; Weft needs explicit names (it does not generate them)` };
    const key = `${r.logicalId}.${property}`;
    if (resolving.has(key)) return { error: `${key} refers to itself through Ref/GetAtt` };
    resolving.add(key);
    const nested: WalkError[] = [];
    const value = toPlain(entry.node, '', '', { src: r.src, lines: new LineMap(0), errors: nested, intrinsic: evaluate, longFormIntrinsics: true });
    resolving.delete(key);
    if (nested.length > 0) return { error: nested[0].message };
    if (typeof value !== 'string' || value === '') return { error: `${key} must be a non-empty string, got: ${show(value)}` };
    return { value };
  };
  const attributeOf = (logicalId: string, attribute: string, spelled: string): IntrinsicResult => {
    const target = byId.get(logicalId);
    if (!target && parameters.has(logicalId)) {
      return { error: `${spelled}: template parameters are only known at deployment; write the value, got: ${logicalId}` };
    }
    if (!target) return { error: `${spelled}: this template has no resource ${logicalId}; only App Mesh resources of the same template can be resolved, got: ${logicalId}` };
    if (!target.info) return { error: `${spelled}: only App Mesh resources of the same template can be resolved, got: ${logicalId} (${target.type})` };
    const { nameProperty, parentProperty } = target.info;
    const attributes = [nameProperty, ...(parentProperty ? [parentProperty] : []), ...(target.info.kind === 'Mesh' ? [] : ['MeshName'])];
    if (!attributes.includes(attribute)) {
      return { error: `${spelled}: only ${attributes.join(', ')} of ${target.type} are known before deployment, got: ${attribute}` };
    }
    return resolveProperty(target, attribute);
  };
  function evaluate(fn: string, arg: unknown): IntrinsicResult {
    if (fn === 'Ref') {
      if (typeof arg !== 'string') return { error: `!Ref takes a logical id, got: ${show(arg)}` };
      const target = byId.get(arg);
      return attributeOf(arg, target?.info?.nameProperty ?? '', `!Ref ${arg}`);
    }
    if (fn === 'GetAtt') {
      const parts = typeof arg === 'string' ? arg.split('.') : Array.isArray(arg) ? arg : [];
      if (parts.length !== 2 || !parts.every((p) => typeof p === 'string')) return { error: `!GetAtt takes LogicalId.Attribute, got: ${show(arg)}` };
      return attributeOf(parts[0], parts[1], `!GetAtt ${parts[0]}.${parts[1]}`);
    }
    return { error: `only Ref and GetAtt to App Mesh resources of the same template can be resolved offline, got: Fn::${fn}` };
  }

  const resources: RawResource[] = [];
  for (const r of byId.values()) {
    if (!r.info) continue;
    const { kind, nameProperty, parentProperty } = r.info;
    const propsPath = joinPath(r.path, 'Properties');
    const name = resolveProperty(r, nameProperty);
    const label = 'value' in name ? `${kind}/${name.value as string}` : undefined;
    const before = errors.length;
    const fail = (line: number | undefined, path: string, message: string) => errors.push(frontEndError(file, r.src.index, line, label, path, message));
    if (!r.properties || !isMap(r.properties)) {
      fail(r.line, propsPath, `an ${r.type} needs Properties with ${nameProperty}`);
      failed.push(undefined);
      continue;
    }
    const allowed = [nameProperty, 'Spec', 'Tags', ...(kind === 'Mesh' ? [] : ['MeshName', 'MeshOwner']), ...(parentProperty ? [parentProperty] : [])];
    const props = keysOf(r.properties, r.src);
    for (const p of props) if (!allowed.includes(p.key)) fail(p.line, joinPath(propsPath, p.key), `unknown property '${p.key}' of ${r.type}`);
    const lineOfProp = (p: string) => props.find((k) => k.key === p)?.line ?? r.propertiesLine;
    if ('error' in name) fail(lineOfProp(nameProperty), joinPath(propsPath, nameProperty), name.error);
    const meshName = kind === 'Mesh' || !props.some((p) => p.key === 'MeshName') ? undefined : resolveProperty(r, 'MeshName');
    if (meshName && 'error' in meshName) fail(lineOfProp('MeshName'), joinPath(propsPath, 'MeshName'), meshName.error);
    const parent = parentProperty ? resolveProperty(r, parentProperty) : undefined;
    if (parent && 'error' in parent) fail(lineOfProp(parentProperty!), joinPath(propsPath, parentProperty!), parent.error);

    const lines = new LineMap(r.line ?? 1);
    lines.set('metadata.name', lineOfProp(nameProperty));
    lines.set('metadata.mesh', lineOfProp('MeshName'));
    if (parentProperty === 'VirtualRouterName') lines.set('metadata.virtualRouter', lineOfProp(parentProperty));
    if (parentProperty === 'VirtualGatewayName') lines.set('metadata.virtualGateway', lineOfProp(parentProperty));
    const walkErrors: WalkError[] = [];
    const specNode = entryOf(r.properties, 'Spec', r.src)?.node ?? null;
    const spec = specNode
      ? toPlain(specNode, 'spec', joinPath(propsPath, 'Spec'), { src: r.src, lines, errors: walkErrors, renameKey: cfnKeyToModel, intrinsic: evaluate, longFormIntrinsics: true })
      : {};
    for (const w of walkErrors) fail(w.line, w.sourcePath, w.message);
    if (errors.length > before || !('value' in name)) {
      const mesh = kind === 'Mesh' ? name : meshName;
      failed.push(mesh && 'value' in mesh ? (mesh.value as string) : undefined);
      continue;
    }

    const resource: RawResource = {
      kind,
      name: name.value as string,
      spec,
      source: { file, document: r.src.index, id: r.logicalId, lineOf: lines.lineOf },
    };
    if (meshName && 'value' in meshName) resource.meshName = meshName.value as string;
    if (parent && 'value' in parent && parentProperty === 'VirtualRouterName') resource.virtualRouterName = parent.value as string;
    if (parent && 'value' in parent && parentProperty === 'VirtualGatewayName') resource.virtualGatewayName = parent.value as string;
    resources.push(resource);
  }
  return { resources, errors, failed: errors.length > 0 && failed.length === 0 ? [undefined] : failed };
}
