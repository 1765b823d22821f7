/**
 * dist/node-relay.js: `node node-relay.js <plain|outbound|inbound> <port> <target port> [<key> <cert> <trust>]`.
 * The bench's Node byte relay (node-relay.ts), alone in its process until SIGTERM.
 */
import { relayArgs, serveNodeRelay } from './node-relay';

serveNodeRelay(...relayArgs(process.argv.slice(2)));
process.once('SIGTERM', () => process.exit(0));
