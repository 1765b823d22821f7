/**
 * Compiles an access log format into a function from a completion record to one line. The format
 * is parsed and turned into a list of field readers once per config; per record, building the
 * line is the only work: each reader returns a value already on the record (or a string made from
 * it), and the line is one string concatenation, with no closure or object made per record.
 */
import { parseAccessLogPattern, UPSTREAM_SERVICE_TIME, type AccessLogOperand, type AccessLogPart } from '../contracts/access-log-format';
import type { NodeConfig } from '../contracts/node-config';
import { ContractError } from '../contracts/validation';
import type { CompletionRecord } from '../exchange/record';

/** One field's value; undefined when the record has none (`-` in text, `null` in JSON). */
type Reader = (r: CompletionRecord) => string | number | undefined;

export type LineOf = (r: CompletionRecord) => string;

const GRPC_STATUS_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted',
  'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

const orUndefined = (s: string | undefined): string | undefined => (s === '' ? undefined : s);
const ms = (n: number): number | undefined => (n < 0 ? undefined : Math.round(n));

/** The record's value of a pseudo-header (`:method`), or undefined for a real header. */
function pseudoHeader(name: string): Reader | undefined {
  switch (name) {
    case ':method':
      return (r) => orUndefined(r.method);
    case ':path':
      return (r) => orUndefined(r.path);
    case ':authority':
    case 'host':
      return (r) => orUndefined(r.authority);
    case ':scheme':
      return (r) => (r.kind === 'http' ? 'http' : undefined);
    case 'x-request-id':
      // The id the sidecar sent upstream: the client's, or the one it made (the client's headers lack it then).
      return (r) => r.requestId;
    default:
      return undefined;
  }
}

function headerReader(name: string): Reader {
  return (
    pseudoHeader(name) ??
    ((r) => {
      const v = r.headers?.[name];
      return typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : undefined;
    })
  );
}

function readerOf(o: AccessLogOperand): Reader {
  const base = baseReader(o);
  const max = o.maxLength;
  if (max === undefined) return base;
  return (r) => {
    const v = base(r);
    return typeof v === 'string' && v.length > max ? v.slice(0, max) : v;
  };
}

function baseReader(o: AccessLogOperand): Reader {
  switch (o.op) {
    case 'START_TIME':
      return (r) => new Date(r.startedAt).toISOString();
    case 'REQ': {
      const [first, second] = o.headers!.map(headerReader);
      return second === undefined ? first : (r) => first(r) ?? second(r);
    }
    case 'RESP':
      // Validated: the only response header kept (UPSTREAM_SERVICE_TIME).
      return o.headers![0] === UPSTREAM_SERVICE_TIME ? (r) => ms(r.upstreamMs) : () => undefined;
    case 'RESPONSE_CODE':
      return (r) => r.status;
    case 'RESPONSE_FLAGS':
      return (r) => r.flags;
    case 'RESPONSE_CODE_DETAILS':
      return (r) => r.errorCode;
    case 'GRPC_STATUS':
      return (r) => (r.grpcStatus === undefined ? undefined : (GRPC_STATUS_NAMES[r.grpcStatus] ?? r.grpcStatus));
    case 'GRPC_STATUS_NUMBER':
      return (r) => r.grpcStatus;
    case 'BYTES_RECEIVED':
      return (r) => r.bytesReceived;
    case 'BYTES_SENT':
      return (r) => r.bytesSent;
    case 'DURATION':
      return (r) => ms(r.durationMs);
    case 'RESPONSE_DURATION':
      return (r) => ms(r.upstreamMs);
    case 'PROTOCOL':
      return (r) => orUndefined(r.protocol);
    case 'UPSTREAM_HOST':
    case 'UPSTREAM_REMOTE_ADDRESS':
      return (r) => r.endpoint;
    case 'UPSTREAM_CLUSTER':
      return (r) => r.cluster;
    case 'ROUTE_NAME':
      return (r) => r.route;
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
    case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT':
      return (r) => r.peerAddress;
    case 'DOWNSTREAM_PEER_URI_SAN':
      return (r) => r.peerPrincipal;
    case 'TRACE_ID':
      return (r) => r.traceId;
    case 'UPSTREAM_REQUEST_ATTEMPT_COUNT':
      return (r) => r.attempts;
  }
}

/** A text pattern: literals and values, `-` for a value the record lacks. */
function textLine(parts: readonly AccessLogPart[]): LineOf {
  const pieces: (string | Reader)[] = parts.map((p) => (typeof p === 'string' ? p : readerOf(p)));
  return (r) => {
    let line = '';
    for (const p of pieces) {
      if (typeof p === 'string') line += p;
      else {
        const v = p(r);
        line += v === undefined ? '-' : v;
      }
    }
    return line;
  };
}

/**
 * A JSON object of fields. As in Envoy, a value that is one operator keeps its type (a number, or
 * null when the record lacks it); a value that mixes text and operators is a string.
 */
function jsonLine(fields: readonly [string, Reader][]): LineOf {
  const keys = fields.map(([key], i) => `${i === 0 ? '{' : ','}${JSON.stringify(key)}:`);
  const values = fields.map(([, read]) => read);
  return (r) => {
    let line = '';
    for (let i = 0; i < keys.length; i++) {
      const v = values[i](r);
      line += keys[i] + (v === undefined ? 'null' : typeof v === 'number' ? v : JSON.stringify(v));
    }
    return `${line}}`;
  };
}

/** Weft's line when the config names no format: every field the record has, under Envoy's names. */
const DEFAULT_FIELDS: [string, Reader][] = [
  ['start_time', baseReader({ op: 'START_TIME' })],
  ['method', baseReader({ op: 'REQ', headers: [':method'] })],
  ['authority', baseReader({ op: 'REQ', headers: [':authority'] })],
  ['path', baseReader({ op: 'REQ', headers: [':path'] })],
  ['protocol', baseReader({ op: 'PROTOCOL' })],
  ['response_code', baseReader({ op: 'RESPONSE_CODE' })],
  ['response_flags', baseReader({ op: 'RESPONSE_FLAGS' })],
  ['grpc_status', baseReader({ op: 'GRPC_STATUS_NUMBER' })],
  ['bytes_received', baseReader({ op: 'BYTES_RECEIVED' })],
  ['bytes_sent', baseReader({ op: 'BYTES_SENT' })],
  ['duration', baseReader({ op: 'DURATION' })],
  ['upstream_host', baseReader({ op: 'UPSTREAM_HOST' })],
  ['upstream_cluster', baseReader({ op: 'UPSTREAM_CLUSTER' })],
  ['route_name', baseReader({ op: 'ROUTE_NAME' })],
  ['attempts', baseReader({ op: 'UPSTREAM_REQUEST_ATTEMPT_COUNT' })],
  ['request_id', baseReader({ op: 'REQ', headers: ['x-request-id'] })],
  ['trace_id', baseReader({ op: 'TRACE_ID' })],
  ['peer_principal', baseReader({ op: 'DOWNSTREAM_PEER_URI_SAN' })],
  ['listener', (r) => r.listener],
  ['error_code', baseReader({ op: 'RESPONSE_CODE_DETAILS' })],
];

/** The line function of a config's access log format (validated when the config was parsed). */
export function compileAccessLogLine(format: NonNullable<NodeConfig['logging']['accessLog']>['format']): LineOf {
  if (format === undefined) return jsonLine(DEFAULT_FIELDS);
  const issues: { path: string; message: string }[] = [];
  const parse = (pattern: string, path: string): AccessLogPart[] => parseAccessLogPattern(pattern, path, issues);
  let line: LineOf;
  if ('text' in format) {
    // App Mesh's text formats end with a newline, which the writer adds itself.
    line = textLine(parse(format.text.endsWith('\n') ? format.text.slice(0, -1) : format.text, 'logging.accessLog.format.text'));
  } else {
    line = jsonLine(
      Object.entries(format.json).map(([key, pattern]): [string, Reader] => {
        const parts = parse(pattern, `logging.accessLog.format.json.${key}`);
        const only = parts.length === 1 && typeof parts[0] !== 'string' ? parts[0] : undefined;
        return [key, only === undefined ? textLine(parts) : readerOf(only)];
      }),
    );
  }
  if (issues.length > 0) throw new ContractError('WEFT_ERR_NODE_CONFIG_INVALID', 'access log format', issues);
  return line;
}
