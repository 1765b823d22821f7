import { cfnValidationErrors } from './synth-helpers';

// The construct tests assert `cfnValidationErrors(...)` is empty; this proves the check can fail.
test('CloudFormation Validate reports an unknown property as an error', () => {
  const errors = cfnValidationErrors({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketNameX: 'b' } } } });
  expect(errors).toEqual([expect.stringMatching(/^F3002 Bucket\.Properties\.BucketNameX: /)]);
});
