/**
 * Micro-benchmark of the sidecar's HTTP/1.1 parsing core: ns per parse of a typical request head
 * (~300 bytes, 8 fields), a typical response head, and chunked decoding, with node's own parser
 * (the llhttp binding behind node:http) on the same request head for scale.
 * Not a test: numbers depend on the machine. Run:
 *
 *   npx esbuild bench/micro/h1-parse.ts --bundle --platform=node --outfile=/tmp/bench-h1-parse.js && node /tmp/bench-h1-parse.js [--json]
 *
 * or import {@link runH1ParseMicroBench} from another bench script.
 */
import { ChunkedDecoder, type ChunkSink } from '../../proxy/h1/chunked';
import { isHeadFailure, parseRequestHead, parseResponseHead, type HeadLimits } from '../../proxy/h1/head-parser';

export interface MicroResult {
  name: string;
  nsPerOp: number;
}

const LIMITS: HeadLimits = { maxHeaderBytes: 16 * 1024, maxHeaders: 100 };

const REQUEST = Buffer.from(
  'GET /api/v1/orders/12345?include=items&page=2 HTTP/1.1\r\n' +
    'Host: orders.internal.example.com:8080\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) weft-bench/1.0\r\n' +
    'Accept: application/json, text/plain, */*\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\n' +
    'X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n' +
    'Cookie: session=abc123; theme=dark\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Date: Sun, 22 Nov 2026 06:00:00 GMT\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    'Content-Length: 1234\r\n' +
    'Cache-Control: no-cache\r\n' +
    'Vary: Accept-Encoding\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);

/** 16 chunks of 1 KiB, as a streaming upstream would send them. */
const CHUNKED_BODY = Buffer.from(
  Array.from({ length: 16 }, () => '400\r\n' + 'x'.repeat(1024) + '\r\n').join('') + '0\r\n\r\n',
  'latin1',
);

let sink = 0;

/** Median ns/op of 7 timed rounds of `iterations` calls, after a warm-up. */
function measure(name: string, iterations: number, fn: () => unknown): MicroResult {
  for (let i = 0; i < iterations; i++) if (fn() === undefined) sink++;
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (fn() === undefined) sink++;
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  return { name, nsPerOp: Math.round(samples[3] * 10) / 10 };
}

interface NodeHttpParser {
  initialize(type: number, resource: object): void;
  execute(buf: Buffer): number | Error;
  finish(): void;
  [k: number]: unknown;
}

/** node's internal llhttp binding, when this Node exposes it; used only for a reference figure. */
function nodeParserBench(iterations: number): MicroResult | undefined {
  let binding: { HTTPParser: (new () => NodeHttpParser) & { REQUEST: number; kOnHeadersComplete: number } };
  try {
    binding = (process as unknown as { binding(name: string): typeof binding }).binding('http_parser');
  } catch {
    return undefined;
  }
  const { HTTPParser } = binding;
  const parser = new HTTPParser();
  let got = 0;
  parser[HTTPParser.kOnHeadersComplete] = () => {
    got++;
    return 0;
  };
  return measure('node llhttp binding: request head (reference)', iterations, () => {
    parser.initialize(HTTPParser.REQUEST, {});
    parser.execute(REQUEST);
    return got;
  });
}

/** Runs every case and returns ns/op per case. */
export function runH1ParseMicroBench(iterations = 200_000): MicroResult[] {
  const req = parseRequestHead(REQUEST, 0, LIMITS);
  const res = parseResponseHead(RESPONSE, 0, LIMITS);
  if (req === undefined || isHeadFailure(req) || res === undefined || isHeadFailure(res)) throw new Error('bench heads must parse');

  const results: MicroResult[] = [];
  results.push(measure(`parseRequestHead: ${REQUEST.length} B, ${req.rawHeaders.length / 2} fields`, iterations, () => parseRequestHead(REQUEST, 0, LIMITS)));
  results.push(measure(`parseResponseHead: ${RESPONSE.length} B, ${res.rawHeaders.length / 2} fields`, iterations, () => parseResponseHead(RESPONSE, 0, LIMITS)));

  const decoder = new ChunkedDecoder({ maxTrailerBytes: 4096, maxTrailers: 20 });
  let bytes = 0;
  const chunkSink: ChunkSink = { onData: (c) => (bytes += c.length) };
  results.push(
    measure(`ChunkedDecoder.feed: 16 x 1 KiB chunks, whole body`, iterations / 10, () => {
      decoder.reset();
      return decoder.feed(CHUNKED_BODY, 0, chunkSink);
    }),
  );
  if (bytes === 0) sink++;
  const ref = nodeParserBench(iterations);
  if (ref !== undefined) results.push(ref);
  return results;
}

if (require.main === module) {
  const results = runH1ParseMicroBench();
  if (process.argv.includes('--json')) console.log(JSON.stringify({ node: process.version, results }, null, 2));
  else for (const r of results) console.log(`${r.nsPerOp.toFixed(1).padStart(10)} ns/op  ${r.name}`);
  if (sink < 0) console.log(sink);
}
