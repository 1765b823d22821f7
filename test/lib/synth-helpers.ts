/** Shared by the construct tests: stacks that synthesize fast, and readers of Weft's outputs. */
import * as cdk from 'aws-cdk-lib';
import { type Template } from 'aws-cdk-lib/assertions';
import { parseNodeConfig, type NodeConfig } from '../../proxy/contracts';

/**
 * A fresh stack in an app that skips Lambda bundling: tests that look at the template need no
 * esbuild run (the example app test bundles for real).
 */
export function newStack(id = 'Stack'): cdk.Stack {
  const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new cdk.Stack(app, id, { env: { account: '111111111111', region: 'eu-west-1' } });
}

/**
 * A CloudFormation string value as text: `Fn::Join` pieces are joined and every other intrinsic
 * becomes `<ref>` (what CloudFormation substitutes at deploy).
 */
export function cfnText(value: unknown, placeholder: (intrinsic: unknown) => string = () => '<ref>'): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [sep, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map((p) => cfnText(p, placeholder)).join(sep);
  }
  return placeholder(value);
}

export function publishProperties(template: Template): { Bucket: unknown; Mesh: string; NodeConfigs: unknown[]; TaskRegistry: unknown } {
  const resources = Object.values(template.findResources('Custom::WeftConfigPublish'));
  expect(resources).toHaveLength(1);
  return resources[0].Properties;
}

/** The node configs config publish receives, parsed with the sidecar's own parser. */
export function publishedConfigs(template: Template, placeholder?: (intrinsic: unknown) => string): NodeConfig[] {
  return publishProperties(template).NodeConfigs.map((c) => parseNodeConfig(cfnText(c, placeholder)));
}

/** Every IAM statement of the policies attached to the role whose logical id starts with `rolePrefix`. */
export function statementsOfRole(template: Template, rolePrefix: string): Record<string, unknown>[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

/**
 * The diagnostics of severity ERROR (or FATAL) that CloudFormation Validate — the cfn-lint rule
 * engine aws-cdk-lib ships as `@aws/cloudformation-validate` — reports for a synthesized template,
 * each as `ruleId logicalId.path: message`.
 */
export function cfnValidationErrors(template: object, name = 'template.json'): string[] {
  // Not a dependency of ours: the copy nested in aws-cdk-lib, which `cdk synth` itself runs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cfv = require(require.resolve('@aws/cloudformation-validate', { paths: [require.resolve('aws-cdk-lib')] })) as {
    CompositeEngine: new (config?: object) => { validateTemplate(t: unknown, c?: object): { diagnostics: CfnDiagnostic[] }; free(): void };
    TemplateContent: new (content: string, name?: string) => unknown;
  };
  const engine = new cfv.CompositeEngine({});
  try {
    const report = engine.validateTemplate(new cfv.TemplateContent(JSON.stringify(template), name), { detailLevel: 'STANDARD', severityLevel: 'WARN' });
    return report.diagnostics
      .filter((d) => d.severity === 'ERROR' || d.severity === 'FATAL')
      .map((d) => `${d.ruleId} ${d.entity?.logicalId ?? ''}${d.propertyPath ? `.${d.propertyPath}` : ''}: ${d.message}`);
  } finally {
    engine.free();
  }
}

interface CfnDiagnostic {
  ruleId: string;
  severity: string;
  message: string;
  propertyPath?: string;
  entity?: { logicalId?: string };
}
