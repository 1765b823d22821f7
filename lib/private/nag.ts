/**
 * Acknowledgements of AWS Solutions (cdk-nag) findings on resources Weft creates, each with the
 * reason the finding is accepted. They are recorded with aws-cdk-lib's `Validations` API, which
 * cdk-nag reads, so Weft needs no runtime dependency on cdk-nag.
 */
import * as cdk from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledgeNag(scope: IConstruct, rules: readonly (readonly [id: string, reason: string])[]): void {
  cdk.Validations.of(scope).acknowledge(...rules.map(([id, reason]) => ({ id, reason })));
}

/** cdk-nag's rendering of a `Fn::GetAtt` in findings: `<LogicalId.Attr>`. */
export function nagRef(element: IConstruct, attribute: string): string {
  const cfn = (cdk.CfnElement.isCfnElement(element) ? element : element.node.defaultChild) as cdk.CfnElement;
  return `<${cdk.Stack.of(cfn).getLogicalId(cfn)}.${attribute}>`;
}

export const LAMBDA_BASIC_EXECUTION = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
