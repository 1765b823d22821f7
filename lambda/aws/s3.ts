/**
 * The config bucket as the controllers use it: small JSON/PEM objects read, compared and written.
 * The only module of the controllers that imports the S3 SDK.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { withRetry, type RetryOptions } from '../shared/retry';
import { clientOptions } from './client-config';

export interface StoredObject {
  body: string;
  etag?: string;
  metadata: Record<string, string>;
}

/** Port of the config bucket; local mode and tests may implement it over a directory or a map. */
export interface ObjectStore {
  /** `undefined` when the object does not exist; `'not-modified'` when `ifNoneMatch` matched. */
  get(bucket: string, key: string, ifNoneMatch?: string): Promise<StoredObject | 'not-modified' | undefined>;
  /** Metadata only; `undefined` when the object does not exist. */
  head(bucket: string, key: string): Promise<{ etag?: string; metadata: Record<string, string> } | undefined>;
  put(bucket: string, key: string, body: string, options: { contentType: string; metadata?: Record<string, string> }): Promise<{ etag?: string }>;
  /** Succeeds when the object is already gone. */
  delete(bucket: string, key: string): Promise<void>;
  /** Every key under `prefix`. */
  list(bucket: string, prefix: string): Promise<string[]>;
}

/** User metadata key holding the SHA-256 of what Weft wrote, so identical writes can be skipped. */
export const CONTENT_HASH_METADATA = 'weft-sha256';

/** SHA-256 hex of a text, as stored under {@link CONTENT_HASH_METADATA}. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

let sharedClient: S3Client | undefined;
/** The container's S3 client, created on first use and reused across invocations. */
export function s3Client(): S3Client {
  sharedClient ??= new S3Client(clientOptions('s3'));
  return sharedClient;
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** The S3 implementation of {@link ObjectStore}. */
export function createS3Store(client: S3Client = s3Client(), retry: RetryOptions = {}): ObjectStore {
  return {
    async get(bucket, key, ifNoneMatch) {
      try {
        const out = await withRetry('s3:GetObject', () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: ifNoneMatch })), retry);
        const body = out.Body ? await out.Body.transformToString('utf8') : '';
        return { body, etag: out.ETag, metadata: out.Metadata ?? {} };
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e?.name === 'NotModified' || e?.$metadata?.httpStatusCode === 304) return 'not-modified';
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async head(bucket, key) {
      try {
        const out = await withRetry('s3:HeadObject', () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), retry);
        return { etag: out.ETag, metadata: out.Metadata ?? {} };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async put(bucket, key, body, options) {
      const out = await withRetry(
        's3:PutObject',
        () =>
          client.send(
            new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: options.contentType, Metadata: options.metadata }),
          ),
        retry,
      );
      return { etag: out.ETag };
    },
    async delete(bucket, key) {
      await withRetry('s3:DeleteObject', () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })), retry);
    },
    async list(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await withRetry(
          's3:ListObjectsV2',
          () => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
          retry,
        );
        for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
  };
}
