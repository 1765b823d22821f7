/**
 * The sidecar image's entry point: `weft proxy` alone, bundled with its dependencies into one file
 * (dist/weft-proxy.js; see scripts/build.mjs and proxy/Dockerfile). Keeping the CLI's other
 * commands out keeps the sidecar's memory to what the sidecar runs. A leading `proxy` argument is
 * accepted, so the bundle takes the same command line as `weft proxy`.
 */
import { proxyCommand } from './main';

const args = process.argv.slice(2);
void proxyCommand(args[0] === 'proxy' ? args.slice(1) : args).then((code) => process.exit(code));
