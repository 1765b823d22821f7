// A tiny app for `weft up` tests: answers with its name (NAME) and, when CALL names a service,
// first calls that service through its sidecar (HTTP_PROXY, absolute-form request, which Node's
// own http module sends when told the proxy is the host) and includes the answer. `/health` is
// its health path. Plain JavaScript: `weft up` runs it with the machine's node.
'use strict';
const http = require('node:http');

const name = process.env.NAME;
const call = process.env.CALL;
const proxy = process.env.HTTP_PROXY ? new URL(process.env.HTTP_PROXY) : undefined;

function callThroughSidecar(target, done) {
  const url = new URL(target);
  const req = http.request({ host: proxy.hostname, port: proxy.port, path: url.href, headers: { host: url.host } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => done(null, res.statusCode, body));
  });
  req.on('error', (err) => done(err));
  req.end();
}

http
  .createServer((req, res) => {
    if (req.url === '/health') return res.end('ok');
    if (call === undefined) return res.end(JSON.stringify({ name }));
    callThroughSidecar(call, (err, status, body) => {
      if (err) {
        res.statusCode = 502;
        return res.end(JSON.stringify({ name, error: err.message }));
      }
      res.statusCode = status;
      res.end(JSON.stringify({ name, called: JSON.parse(body) }));
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
