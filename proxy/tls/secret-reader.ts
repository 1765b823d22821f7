/**
 * The sidecar's view of its certificate secret in Secrets Manager. It polls the `AWSCURRENT`
 * version (one GetSecretValue per poll) and fetches `AWSPREVIOUS` only when the current version
 * changed, so a rotation costs two calls and a quiet poll one. When Secrets Manager is unreachable
 * or a value does not parse, the last good pair stays in place (static stability).
 */
import type { GetSecretValueCommand, GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from '../aws/clients';
import type { CertificateSecret } from '../contracts/mesh-documents';
import { parseCertificateSecret } from '../contracts/mesh-layout';

/** The part of a SecretsManagerClient the reader uses. */
export interface SecretValueClient {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

/** The certificate to serve and the one it replaced (still trusted during the overlap). */
export interface CertificatePair {
  current: CertificateSecret;
  previous?: CertificateSecret;
  /** Secrets Manager version id of `current`. */
  versionId: string;
}

export interface SecretReaderOptions {
  client: SecretValueClient;
  secretId: string;
  /** Poll interval (settings: `certPollMs`); each wait is jittered by ±`jitter`. */
  pollMs: number;
  /** Fraction of `pollMs` to jitter by; default 0.2 as in the sidecar settings. */
  jitter?: number;
  /** Called with each new pair (first load and every rotation). */
  onChange?: (pair: CertificatePair) => void;
  /** Called when a poll fails; the last good pair is kept. */
  onError?: (err: unknown) => void;
}

export interface SecretReader {
  /** The last good pair, or undefined before the first successful read. */
  get(): CertificatePair | undefined;
  /** Polls once now. Resolves with the pair in force afterwards; rejects only if there never was one. */
  refresh(): Promise<CertificatePair>;
  /** Starts polling every `pollMs` (jittered). The timer does not keep the process alive. */
  start(): void;
  stop(): void;
}

function isNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ResourceNotFoundException';
}

/** Creates a reader for one certificate secret. Nothing is fetched until `refresh` or `start`. */
export function createSecretReader(options: SecretReaderOptions): SecretReader {
  const jitter = options.jitter ?? 0.2;
  let pair: CertificatePair | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<CertificatePair> | undefined;

  async function fetchStage(stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<{ secret: CertificateSecret; versionId: string } | undefined> {
    const { GetSecretValueCommand } = secretsManagerSdk();
    try {
      const out = await options.client.send(new GetSecretValueCommand({ SecretId: options.secretId, VersionStage: stage }));
      if (out.SecretString === undefined) return undefined;
      return { secret: parseCertificateSecret(out.SecretString, `${options.secretId} (${stage})`), versionId: out.VersionId ?? '' };
    } catch (err) {
      if (stage === 'AWSPREVIOUS' && isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function poll(): Promise<CertificatePair> {
    try {
      const current = await fetchStage('AWSCURRENT');
      if (!current) throw Object.assign(new Error(`${options.secretId} has no SecretString`), { code: 'WEFT_ERR_CERTIFICATE_INVALID' });
      if (pair && pair.versionId === current.versionId) return pair;
      // A previous version that does not parse must not block the new current one.
      let previous: CertificateSecret | undefined;
      try {
        previous = (await fetchStage('AWSPREVIOUS'))?.secret;
      } catch (err) {
        options.onError?.(err);
        previous = pair?.current;
      }
      pair = { current: current.secret, previous, versionId: current.versionId };
      options.onChange?.(pair);
      return pair;
    } catch (err) {
      options.onError?.(err);
      if (pair) return pair;
      throw err;
    }
  }

  function schedule(): void {
    const spread = options.pollMs * jitter;
    const delay = Math.max(1, Math.round(options.pollMs - spread + Math.random() * 2 * spread));
    timer = setTimeout(() => {
      void reader.refresh().catch(() => undefined).finally(() => {
        if (timer) schedule();
      });
    }, delay);
    timer.unref();
  }

  const reader: SecretReader = {
    get: () => pair,
    refresh() {
      inFlight ??= poll().finally(() => (inFlight = undefined));
      return inFlight;
    },
    start() {
      if (!timer) schedule();
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
  return reader;
}
