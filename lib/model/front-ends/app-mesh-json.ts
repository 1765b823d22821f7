/**
 * The JSON that `aws appmesh describe-*` prints: `{"virtualNode": {"meshName", "virtualNodeName",
 * "spec", "metadata", "status"}}` and the like. App Mesh's `metadata` (ARN, version, timestamps)
 * and `status` describe the AWS copy of the resource, so they are accepted and ignored.
 */
import { type Node, isMap } from 'yaml';
import { type ResourceKind } from '../schema';
import { type FrontEndResult, type RawResource, frontEndError, show } from './raw-resource';
import { LineMap, type SourceDocument, type WalkError, entryOf, joinPath, keysOf, nodeLine, toPlain } from './yaml-source';

interface DescribeShape {
  kind: ResourceKind;
  nameField: string;
  parentField?: 'virtualRouterName' | 'virtualGatewayName';
}

const DESCRIBE_SHAPES: Record<string, DescribeShape> = {
  mesh: { kind: 'Mesh', nameField: 'meshName' },
  virtualNode: { kind: 'VirtualNode', nameField: 'virtualNodeName' },
  virtualService: { kind: 'VirtualService', nameField: 'virtualServiceName' },
  virtualRouter: { kind: 'VirtualRouter', nameField: 'virtualRouterName' },
  route: { kind: 'Route', nameField: 'routeName', parentField: 'virtualRouterName' },
  virtualGateway: { kind: 'VirtualGateway', nameField: 'virtualGatewayName' },
  gatewayRoute: { kind: 'GatewayRoute', nameField: 'gatewayRouteName', parentField: 'virtualGatewayName' },
};

/** A document is describe output when its only key is one of App Mesh's resource types. */
export function isAppMeshDescribeDocument(root: Node, src: SourceDocument): boolean {
  const keys = keysOf(root, src);
  return keys.length === 1 && keys[0].key in DESCRIBE_SHAPES;
}

/** Reads one `describe-*` output. */
export function readAppMeshDescribeDocument(root: Node, src: SourceDocument, file: string): FrontEndResult {
  const [{ key: top }] = keysOf(root, src);
  const shape = DESCRIBE_SHAPES[top];
  const body = entryOf(root, top, src)?.node ?? null;
  const lines = new LineMap(nodeLine(body ?? root, src) ?? 1);
  const errors: FrontEndResult['errors'] = [];
  const at = (field: string) => (body ? entryOf(body, field, src)?.keyLine : undefined) ?? lines.lineOf('');
  const fields = body ? keysOf(body, src) : [];
  const known = new Set(['meshName', shape.nameField, shape.parentField, 'spec', 'metadata', 'status']);

  const stringField = (field: string): string | undefined => {
    const entry = body ? entryOf(body, field, src) : undefined;
    const value = entry?.node?.toJSON() as unknown;
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const name = stringField(shape.nameField);
  const meshName = stringField('meshName');
  const label = name !== undefined ? `${shape.kind}/${name}` : undefined;
  const fail = (field: string, message: string) => errors.push(frontEndError(file, src.index, at(field), label, joinPath(top, field), message));

  if (!body || !isMap(body)) {
    errors.push(frontEndError(file, src.index, lines.lineOf(''), undefined, top, `${top} must be an object with ${shape.nameField} and spec, got: ${show(body?.toJSON())}`));
    return { resources: [], errors, failed: [undefined] };
  }
  for (const f of fields) if (!known.has(f.key)) fail(f.key, `unknown field '${f.key}' in App Mesh ${top} output`);
  if (name === undefined) fail(shape.nameField, `${shape.nameField} must be a non-empty string, got: ${show(entryOf(body, shape.nameField, src)?.node?.toJSON())}`);
  if (meshName === undefined) fail('meshName', `meshName must be a non-empty string, got: ${show(entryOf(body, 'meshName', src)?.node?.toJSON())}`);
  const parentName = shape.parentField ? stringField(shape.parentField) : undefined;
  if (shape.parentField && parentName === undefined) {
    fail(shape.parentField, `${shape.parentField} must be a non-empty string, got: ${show(entryOf(body, shape.parentField, src)?.node?.toJSON())}`);
  }

  lines.set('metadata.name', at(shape.nameField));
  lines.set('metadata.mesh', at('meshName'));
  if (shape.parentField === 'virtualRouterName') lines.set('metadata.virtualRouter', at(shape.parentField));
  if (shape.parentField === 'virtualGatewayName') lines.set('metadata.virtualGateway', at(shape.parentField));
  const walkErrors: WalkError[] = [];
  const specNode = entryOf(body, 'spec', src)?.node ?? null;
  const spec = specNode ? toPlain(specNode, 'spec', joinPath(top, 'spec'), { src, lines, errors: walkErrors }) : {};
  for (const w of walkErrors) errors.push(frontEndError(file, src.index, w.line, label, w.sourcePath, w.message));
  if (errors.length > 0 || name === undefined) return { resources: [], errors, failed: [meshName] };

  const resource: RawResource = { kind: shape.kind, name, spec, source: { file, document: src.index, lineOf: lines.lineOf } };
  // A mesh's own meshName is its name, not a parent.
  if (shape.kind !== 'Mesh') resource.meshName = meshName;
  if (shape.parentField === 'virtualRouterName') resource.virtualRouterName = parentName;
  if (shape.parentField === 'virtualGatewayName') resource.virtualGatewayName = parentName;
  return { resources: [resource], errors, failed: [] };
}
