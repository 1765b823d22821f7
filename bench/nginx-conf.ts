/**
 * nginx configurations for the bench: the 1 KiB upstream and the reference proxies. Every
 * instance gets its own prefix directory (pid, logs, temp files), one worker, and listens on
 * 127.0.0.1 only. Keep-alive limits are raised everywhere so that wrk and the proxies reuse
 * connections for the whole run, as a mesh sidecar does.
 */
import type { IdentityFiles } from './certs';

/** The fixed response body: 1,024 bytes. */
export const RESPONSE_BODY = 'x'.repeat(1024);

function main(prefix: string, http: string): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
worker_rlimit_nofile 16384;
events {
  worker_connections 8192;
  multi_accept on;
}
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${http}
}
`;
}

/** The upstream app: answers every request with 200 and {@link RESPONSE_BODY}. */
export function upstreamConf(prefix: string, port: number): string {
  return main(
    prefix,
    `  server {
    listen 127.0.0.1:${port} reuseport;
    location / {
      default_type text/plain;
      return 200 "${RESPONSE_BODY}";
    }
  }`,
  );
}

function keepaliveUpstream(name: string, port: number): string {
  return `  upstream ${name} {
    server 127.0.0.1:${port};
    keepalive 64;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }`;
}

const proxyDirectives = `      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;`;

/** One plain hop: proxy_pass with a keep-alive upstream pool. */
export function oneHopConf(prefix: string, port: number, upstreamPort: number): string {
  return main(
    prefix,
    `${keepaliveUpstream('app', upstreamPort)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
${proxyDirectives}
    }
  }`,
  );
}

/**
 * The client side of the two-hop path: plain HTTP in, mutual TLS out, verifying the peer's
 * certificate chain and name.
 */
export function mtlsOutboundConf(prefix: string, port: number, peerPort: number, self: IdentityFiles, peer: IdentityFiles): string {
  return main(
    prefix,
    `${keepaliveUpstream('peer', peerPort)}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass https://peer;
${proxyDirectives}
      proxy_ssl_certificate ${self.certificate};
      proxy_ssl_certificate_key ${self.privateKey};
      proxy_ssl_trusted_certificate ${self.trustBundle};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name ${peer.node};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.3;
    }
  }`,
  );
}

/** The server side of the two-hop path: mutual TLS in (client certificate required), plain HTTP to the app. */
export function mtlsInboundConf(prefix: string, port: number, upstreamPort: number, self: IdentityFiles): string {
  return main(
    prefix,
    `${keepaliveUpstream('app', upstreamPort)}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${self.certificate};
    ssl_certificate_key ${self.privateKey};
    ssl_client_certificate ${self.trustBundle};
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_protocols TLSv1.3;
    ssl_session_cache shared:bench:1m;
    location / {
      proxy_pass http://app;
${proxyDirectives}
    }
  }`,
  );
}
