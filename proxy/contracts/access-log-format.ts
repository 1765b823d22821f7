/**
 * The access log format language: App Mesh's `logging.accessLog.file.format`, a `text` pattern or a
 * `json` map of key to pattern, where a pattern is text with Envoy `%OPERATOR%` command operators.
 * One parser for every part: the model validator and `parseNodeConfig` report an unknown or
 * malformed operator with its field path, and the sidecar compiles the parsed parts once per
 * config (proxy/telemetry/access-log.ts), so nothing is parsed per request.
 *
 * No zod here: the sidecar runs this on every config it reads.
 */
import type { ContractIssue } from './validation';

/**
 * The operators the sidecar fills, and the argument each takes. Not here, so refused: operators of
 * what the sidecar does not keep (the client's port, most response headers, TLS details).
 */
export const ACCESS_LOG_OPERATORS = {
  START_TIME: 'none',
  REQ: 'headers',
  RESPONSE_CODE: 'none',
  RESPONSE_FLAGS: 'none',
  RESPONSE_CODE_DETAILS: 'none',
  GRPC_STATUS: 'none',
  GRPC_STATUS_NUMBER: 'none',
  BYTES_RECEIVED: 'none',
  BYTES_SENT: 'none',
  DURATION: 'none',
  RESPONSE_DURATION: 'none',
  PROTOCOL: 'none',
  UPSTREAM_HOST: 'none',
  UPSTREAM_REMOTE_ADDRESS: 'none',
  UPSTREAM_CLUSTER: 'none',
  ROUTE_NAME: 'none',
  RESP: 'headers',
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: 'none',
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: 'none',
  DOWNSTREAM_PEER_URI_SAN: 'none',
  TRACE_ID: 'none',
  UPSTREAM_REQUEST_ATTEMPT_COUNT: 'none',
} as const;

export type AccessLogOperator = keyof typeof ACCESS_LOG_OPERATORS;

/** One `%OPERATOR%` of a pattern. */
export interface AccessLogOperand {
  readonly op: AccessLogOperator;
  /** `REQ(X?Y)`: the header names, lower-cased, tried in order. */
  readonly headers?: readonly string[];
  /** `:Z`: the value is cut to Z characters. */
  readonly maxLength?: number;
}

/** A pattern: literal text and operands, in order. */
export type AccessLogPart = string | AccessLogOperand;

const OPERAND = /^([A-Z_]+)(?:\(([^)]*)\))?(?::([0-9]+))?$/;
/** The one response header `%RESP(X)%` reads. */
export const UPSTREAM_SERVICE_TIME = 'x-envoy-upstream-service-time';
const HEADER_NAME = /^:?[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** Parses one pattern; an operator it cannot fill is an issue at `path`. */
export function parseAccessLogPattern(pattern: string, path: string, issues: ContractIssue[]): AccessLogPart[] {
  const parts: AccessLogPart[] = [];
  let text = '';
  let i = 0;
  while (i < pattern.length) {
    const open = pattern.indexOf('%', i);
    if (open < 0) {
      text += pattern.slice(i);
      break;
    }
    text += pattern.slice(i, open);
    // `%%` is a literal percent sign (Envoy's escape).
    if (pattern[open + 1] === '%') {
      text += '%';
      i = open + 2;
      continue;
    }
    const close = pattern.indexOf('%', open + 1);
    if (close < 0) {
      issues.push({ path, message: `a '%' opens an operator that is never closed (write '%%' for a percent sign), got: ${pattern}` });
      return parts;
    }
    const operand = parseOperand(pattern.slice(open + 1, close), path, issues);
    if (operand !== undefined) {
      if (text !== '') parts.push(text);
      text = '';
      parts.push(operand);
    }
    i = close + 1;
  }
  if (text !== '') parts.push(text);
  return parts;
}

function parseOperand(body: string, path: string, issues: ContractIssue[]): AccessLogOperand | undefined {
  const m = OPERAND.exec(body);
  const op = m?.[1];
  if (m === null || op === undefined || !Object.hasOwn(ACCESS_LOG_OPERATORS, op)) {
    issues.push({ path, message: `unknown access log operator %${body}%; supported: ${Object.keys(ACCESS_LOG_OPERATORS).map((k) => (ACCESS_LOG_OPERATORS[k as AccessLogOperator] === 'headers' ? `${k}(X?Y):Z` : k)).join(', ')}` });
    return undefined;
  }
  const arg = m[2];
  const maxLength = m[3] === undefined ? undefined : Number(m[3]);
  const kind = ACCESS_LOG_OPERATORS[op as AccessLogOperator];
  if (kind === 'none') {
    if (arg !== undefined || maxLength !== undefined) {
      issues.push({ path, message: `operator %${op}% takes no argument or length, got: %${body}%` });
      return undefined;
    }
    return { op: op as AccessLogOperator };
  }
  const headers = (arg ?? '').split('?').map((h) => h.trim().toLowerCase());
  if (arg === undefined || headers.length > 2 || headers.some((h) => !HEADER_NAME.test(h))) {
    issues.push({ path, message: `operator %${op}% needs one header name or two joined by '?' (REQ(X?Y):Z), got: %${body}%` });
    return undefined;
  }
  // The record keeps one response value: the upstream's time to its response head, which Envoy
  // sends as this header.
  if (op === 'RESP' && headers.some((h) => h !== UPSTREAM_SERVICE_TIME)) {
    issues.push({ path, message: `operator %RESP(...)% can only read ${UPSTREAM_SERVICE_TIME} (the sidecar keeps no other response header), got: %${body}%` });
    return undefined;
  }
  return maxLength === undefined ? { op: op as AccessLogOperator, headers } : { op: op as AccessLogOperator, headers, maxLength };
}

/** An access log format of the node config: a text pattern or JSON keys and their patterns. */
export type AccessLogFormatInput = { text: string } | { json: Record<string, string> };

/** Every issue of `format`, at `path` (`.text`, or `.json.<key>`). */
export function accessLogFormatIssues(format: AccessLogFormatInput, path: string): ContractIssue[] {
  const issues: ContractIssue[] = [];
  if ('text' in format) parseAccessLogPattern(format.text, `${path}.text`, issues);
  else for (const [key, pattern] of Object.entries(format.json)) parseAccessLogPattern(pattern, `${path}.json.${key}`, issues);
  return issues;
}
