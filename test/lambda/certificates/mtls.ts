/** A real mutual TLS handshake between two node identities on 127.0.0.1. */
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface Identity {
  privateKeyPem: string;
  certificatePem: string;
  chainPem: string;
  trustBundlePem: string;
}

export interface HandshakeResult {
  /** The client's echo of the server's reply; 'ok' only after a completed mutual handshake. */
  reply: string;
  /** URI SAN of the client certificate, as the server saw it. */
  serverSawClient?: string;
  /** URI SAN of the server certificate, as the client saw it. */
  clientSawServer?: string;
  clientError?: string;
}

/** Serves as `server`, connects as `client`, and reports what each side verified. */
export async function mutualTls(server: Identity, client: Identity, expectedServerId: string): Promise<HandshakeResult> {
  const result: HandshakeResult = { reply: '' };
  const srv = createServer(
    { key: server.privateKeyPem, cert: server.certificatePem + server.chainPem, ca: server.trustBundlePem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
    (socket: TLSSocket) => {
      result.serverSawClient = socket.getPeerCertificate().subjectaltname;
      socket.end('ok');
    },
  );
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    await new Promise<void>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: (srv.address() as AddressInfo).port,
        key: client.privateKeyPem,
        cert: client.certificatePem + client.chainPem,
        ca: client.trustBundlePem,
        // Mesh peers are named by SPIFFE id, not by DNS name.
        checkServerIdentity: (_host, cert) => {
          result.clientSawServer = cert.subjectaltname;
          return cert.subjectaltname === `URI:${expectedServerId}` ? undefined : new Error(`server is ${cert.subjectaltname}`);
        },
      });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (result.reply += d));
      socket.on('error', (err) => (result.clientError = (err as NodeJS.ErrnoException).code ?? err.message));
      socket.on('close', () => resolve());
    });
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
  return result;
}
