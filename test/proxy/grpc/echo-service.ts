/** The test gRPC service (echo.proto) and a server for it, shared by the gRPC and gateway tests. */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface Reply {
  message: string;
  server: string;
  tenant: string;
}
export type EchoClient = grpc.Client & {
  Say(req: { message: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Reply) => void): grpc.ClientUnaryCall;
  Slow(req: { message: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Reply) => void): grpc.ClientUnaryCall;
  Count(req: { n: number }, md?: grpc.Metadata): grpc.ClientReadableStream<Reply>;
};
export type OtherClient = grpc.Client & {
  Ping(req: { message: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Reply) => void): grpc.ClientUnaryCall;
};

const definition = protoLoader.loadSync(join(__dirname, 'echo.proto'), { keepCase: true, defaults: true });
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  weft: { test: { Echo: grpc.ServiceClientConstructor; Other: grpc.ServiceClientConstructor } };
};
export const { Echo, Other } = proto.weft.test;

/** A gRPC server named `name`: Say echoes (or fails on 'fail'), Count streams n replies, Slow waits. */
export async function startGrpcServer(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  const tenantOf = (md: grpc.Metadata): string => String(md.get('x-tenant')[0] ?? '');
  server.addService(Echo.service, {
    Say: (call: grpc.ServerUnaryCall<{ message: string }, Reply>, cb: grpc.sendUnaryData<Reply>) => {
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', name);
      if (call.request.message === 'fail') {
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'the order is closed: ✗ 100%', metadata: trailer });
        return;
      }
      const initial = new grpc.Metadata();
      initial.set('x-initial', 'hello');
      call.sendMetadata(initial);
      cb(null, { message: call.request.message, server: name, tenant: tenantOf(call.metadata) }, trailer);
    },
    Count: (call: grpc.ServerWritableStream<{ n: number }, Reply>) => {
      for (let i = 1; i <= call.request.n; i++) call.write({ message: `#${i}`, server: name, tenant: tenantOf(call.metadata) });
      const trailer = new grpc.Metadata();
      trailer.set('x-count', String(call.request.n));
      call.end(trailer);
    },
    Slow: (call: grpc.ServerUnaryCall<{ message: string }, Reply>, cb: grpc.sendUnaryData<Reply>) => {
      const timer = setTimeout(() => cb(null, { message: call.request.message, server: name, tenant: '' }), 3_000);
      call.on('cancelled', () => clearTimeout(timer));
    },
  });
  server.addService(Other.service, {
    Ping: (_call: unknown, cb: grpc.sendUnaryData<Reply>) => cb(null, { message: 'pong', server: name, tenant: '' }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

