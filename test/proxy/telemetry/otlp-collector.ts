/**
 * A real OTLP/HTTP trace collector for tests: an HTTP server that takes `POST /v1/traces` and
 * decodes each body with the official opentelemetry-proto definitions (vendored beside this file)
 * through protobufjs, so a test reads spans as any collector would. It can also accept and never
 * answer, as a hung collector does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';

const PROTO_DIR = join(__dirname, 'opentelemetry-proto');

let exportRequest: protobuf.Type | undefined;

/** The ExportTraceServiceRequest message type from the vendored .proto files. */
export function exportTraceServiceRequest(): protobuf.Type {
  if (exportRequest === undefined) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
    exportRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  }
  return exportRequest;
}

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number; message?: string } | undefined;
}

export interface DecodedExport {
  resource: Record<string, string | number | boolean>;
  scope: string;
  spans: DecodedSpan[];
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string };
type KeyValue = { key: string; value: AnyValue };

function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) out[kv.key] = kv.value.stringValue ?? kv.value.boolValue ?? Number(kv.value.intValue);
  return out;
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('hex'));

/** Decodes one OTLP/HTTP protobuf body (throws on a body the definitions do not accept). */
export function decodeExport(body: Buffer): DecodedExport[] {
  const type = exportTraceServiceRequest();
  const message = type.toObject(type.decode(body), { longs: String, enums: Number, defaults: false }) as {
    resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { scope?: { name: string }; spans?: Record<string, unknown>[] }[] }[];
  };
  return (message.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).map((ss) => ({
      resource: attributes(rs.resource?.attributes),
      scope: ss.scope?.name ?? '',
      spans: (ss.spans ?? []).map((s) => ({
        traceId: hex(s.traceId as Uint8Array),
        spanId: hex(s.spanId as Uint8Array),
        parentSpanId: hex(s.parentSpanId as Uint8Array | undefined),
        name: s.name as string,
        kind: (s.kind as number | undefined) ?? 0,
        startTimeUnixNano: s.startTimeUnixNano as string,
        endTimeUnixNano: s.endTimeUnixNano as string,
        attributes: attributes(s.attributes as KeyValue[]),
        status: s.status as DecodedSpan['status'],
      })),
    })),
  );
}

export interface Collector {
  readonly port: number;
  readonly url: string;
  /** Every export received, with its path and content type. */
  readonly exports: { path: string; contentType: string | undefined; body: Buffer }[];
  /** Every span received so far, decoded. */
  spans(): DecodedSpan[];
  /** Requests that arrived, answered or not. */
  received(): number;
  close(): Promise<void>;
}

/** Starts a collector; `hang`: accept each export and never answer. */
export async function startCollector(opts: { hang?: boolean } = {}): Promise<Collector> {
  const exports: Collector['exports'] = [];
  let received = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    received++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      exports.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
      if (opts.hang) return;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports,
    spans: () => exports.flatMap((e) => decodeExport(e.body).flatMap((x) => x.spans)),
    received: () => received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
