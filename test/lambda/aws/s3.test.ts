import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createS3Store } from '../../../lambda/aws/s3';
import { awsError, instantRetry } from '../aws-errors';
import { mockSdk } from '../sdk-mock';

const client = new S3Client({ region: 'eu-west-1' });
const s3 = mockSdk(client);
beforeEach(() => s3.reset());

// The adapter only calls transformToString on the body stream.
const body = (text: string) => ({ transformToString: async () => text });

describe('S3 adapter', () => {
  test('GET returns body, ETag and metadata; a conditional GET that matches is not-modified', async () => {
    s3.on(GetObjectCommand, { Bucket: 'b', Key: 'k', IfNoneMatch: undefined }).resolves({ Body: body('{"a":1}'), ETag: '"e1"', Metadata: { 'weft-sha256': 'h' } });
    s3.on(GetObjectCommand, { Bucket: 'b', Key: 'k', IfNoneMatch: '"e1"' }).rejects(awsError('NotModified', 304));
    const store = createS3Store(client);
    expect(await store.get('b', 'k')).toEqual({ body: '{"a":1}', etag: '"e1"', metadata: { 'weft-sha256': 'h' } });
    expect(await store.get('b', 'k', '"e1"')).toBe('not-modified');
  });

  test('a missing object is undefined for GET and HEAD', async () => {
    s3.on(GetObjectCommand).rejects(awsError('NoSuchKey', 404));
    s3.on(HeadObjectCommand).rejects(awsError('NotFound', 404));
    const store = createS3Store(client);
    expect(await store.get('b', 'k')).toBeUndefined();
    expect(await store.head('b', 'k')).toBeUndefined();
  });

  test('PUT sends body, content type and metadata; throttling (SlowDown) is retried', async () => {
    const retry = instantRetry();
    s3.on(PutObjectCommand).rejectsOnce(awsError('SlowDown', 503)).resolves({ ETag: '"e2"' });
    expect(await createS3Store(client, retry).put('b', 'mesh/nodes/a.json', '{}', { contentType: 'application/json', metadata: { 'weft-sha256': 'h' } })).toEqual({ etag: '"e2"' });
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'b', Key: 'mesh/nodes/a.json', Body: '{}', ContentType: 'application/json', Metadata: { 'weft-sha256': 'h' } },
      { Bucket: 'b', Key: 'mesh/nodes/a.json', Body: '{}', ContentType: 'application/json', Metadata: { 'weft-sha256': 'h' } },
    ]);
    expect(retry.delays).toHaveLength(1);
  });

  test('LIST follows continuation tokens; DELETE names the key', async () => {
    s3.on(ListObjectsV2Command).resolvesOnce({ Contents: [{ Key: 'm/nodes/a.json' }], IsTruncated: true, NextContinuationToken: 'c' }).resolvesOnce({ Contents: [{ Key: 'm/nodes/b.json' }], IsTruncated: false });
    s3.on(DeleteObjectCommand).resolves({});
    const store = createS3Store(client);
    expect(await store.list('b', 'm/nodes/')).toEqual(['m/nodes/a.json', 'm/nodes/b.json']);
    expect(s3.commandCalls(ListObjectsV2Command)[1].args[0].input).toEqual({ Bucket: 'b', Prefix: 'm/nodes/', ContinuationToken: 'c' });
    await store.delete('b', 'm/nodes/a.json');
    expect(s3.commandCalls(DeleteObjectCommand)[0].args[0].input).toEqual({ Bucket: 'b', Key: 'm/nodes/a.json' });
  });
});
