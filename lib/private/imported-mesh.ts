import * as cdk from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { IMesh } from '../mesh';
import type { VirtualGateway } from '../virtual-gateway';
import type { VirtualNode } from '../virtual-node';
import type { VirtualRouter } from '../virtual-router';

/**
 * A mesh known by name only. Weft builds a mesh's model in the Mesh construct that defines it, so
 * an imported mesh can be referenced (by imported nodes and services) but not added to.
 */
export class ImportedMesh extends cdk.Resource implements IMesh {
  constructor(
    scope: Construct,
    id: string,
    readonly meshName: string,
    readonly meshArn: string,
  ) {
    super(scope, id);
  }
  addVirtualRouter(id: string): VirtualRouter {
    throw this.cannotAdd(`VirtualRouter ${id}`);
  }
  addVirtualNode(id: string): VirtualNode {
    throw this.cannotAdd(`VirtualNode ${id}`);
  }
  addVirtualGateway(id: string): VirtualGateway {
    throw this.cannotAdd(`VirtualGateway ${id}`);
  }
  private cannotAdd(what: string): Error {
    return new Error(
      `${what}: mesh '${this.meshName}' is imported. Weft builds a mesh's model in the Mesh construct that defines it, ` +
        'so resources can only be added to a Mesh defined in this CDK app (pass that Mesh object across stacks)',
    );
  }
}

export function meshArnOf(scope: Construct, meshName: string): string {
  return cdk.Stack.of(scope).formatArn({ service: 'appmesh', resource: 'mesh', resourceName: meshName });
}

/** `arn:<partition>:appmesh:<region>:<account>:mesh/<mesh>/<kind>/<name>`. */
export function childArn(scope: Construct, meshName: string, kind: string, name: string): string {
  return cdk.Stack.of(scope).formatArn({ service: 'appmesh', resource: 'mesh', resourceName: `${meshName}/${kind}/${name}` });
}

/** Mesh and resource name of an App Mesh-shaped ARN; only literal ARNs can be parsed at synth. */
export function parseChildArn(arn: string, kind: string): [string, string, ...string[]] {
  if (cdk.Token.isUnresolved(arn)) throw new Error(`Weft needs the names in a ${kind} ARN at synth: pass a literal ARN, got: ${arn}`);
  const m = new RegExp(`^arn:[^:]+:appmesh:[^:]*:[^:]*:mesh/([^/]+)/${kind}/([^/]+)(?:/(.+))?$`).exec(arn);
  if (!m) throw new Error(`not a ${kind} ARN (arn:<partition>:appmesh:<region>:<account>:mesh/<mesh>/${kind}/<name>), got: ${arn}`);
  return m[3] !== undefined ? [m[1], m[2], ...m[3].split('/')] : [m[1], m[2]];
}

export function importedMesh(scope: Construct, id: string, meshName: string): IMesh {
  return new ImportedMesh(scope, id, meshName, meshArnOf(scope, meshName));
}
