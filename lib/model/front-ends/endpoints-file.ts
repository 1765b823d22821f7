/**
 * Local mode's endpoints file (`weft proxy --endpoints file:<path>`, `EndpointsFileSchema`) where
 * mesh sources are read: it sits beside the mesh files it serves (as `examples/` has one), so
 * `weft validate` checks it with the sidecar's own parser instead of calling it an unknown
 * document. It adds nothing to the mesh model.
 */
import { type Node } from 'yaml';
import { ENDPOINTS_FILE_SCHEMA } from '../../../proxy/contracts/schema-ids';
import { parseEndpointsFile } from '../../../proxy/contracts/mesh-layout';
import { ContractError } from '../../../proxy/contracts/validation';
import { type FrontEndResult, frontEndError } from './raw-resource';
import { LineMap, type SourceDocument, type WalkError, entryOf, nodeLine, toPlain } from './yaml-source';

/** A document is an endpoints file when its `schema` says so. */
export function isEndpointsDocument(root: Node, src: SourceDocument): boolean {
  const schema = entryOf(root, 'schema', src)?.node;
  return schema?.toJSON() === ENDPOINTS_FILE_SCHEMA;
}

/** Checks an endpoints file; every problem is an error at its field's line. */
export function readEndpointsDocument(root: Node, src: SourceDocument, file: string): FrontEndResult {
  const lines = new LineMap(nodeLine(root, src) ?? 1);
  const walkErrors: WalkError[] = [];
  const value = toPlain(root, '', '', { src, lines, errors: walkErrors });
  const errors = walkErrors.map((w) => frontEndError(file, src.index, w.line, undefined, w.sourcePath, w.message));
  try {
    parseEndpointsFile(value, file);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    for (const i of err.issues) errors.push(frontEndError(file, src.index, lines.lineOf(i.path), undefined, i.path, i.message));
  }
  return { resources: [], errors, failed: [] };
}
