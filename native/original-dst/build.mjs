// Builds the SO_ORIGINAL_DST addon with the node-gyp that ships inside npm (no download, no
// package: Node's own headers, plain node_api.h). Skips with a notice, and exit code 0, where it
// cannot be built (not Linux, no C++ compiler, no Node headers): the sidecar then runs without it
// and refuses transparent plain TCP with WEFT_ERR_ORIGINAL_DST_UNAVAILABLE.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const skip = (why) => {
  console.log(`native/original-dst: not built (${why}); transparent plain TCP will be refused`);
  process.exit(0);
};

if (process.platform !== 'linux') skip('SO_ORIGINAL_DST is Linux-only');
const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) skip(`no Node headers under ${nodedir}/include/node`);
try {
  execFileSync('sh', ['-c', 'command -v make && command -v "${CXX:-g++}"'], { stdio: 'ignore' });
} catch {
  skip('no make or C++ compiler');
}
const gyp = [
  process.env.npm_config_node_gyp,
  join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].find((p) => p && existsSync(p));
if (!gyp) skip("npm's bundled node-gyp not found");
try {
  execFileSync(process.execPath, [gyp, 'rebuild', '--directory', here, `--nodedir=${nodedir}`], { stdio: 'inherit' });
} catch {
  skip('node-gyp failed (see above)');
}
console.log(`native/original-dst: built ${join(here, 'build', 'Release', 'original_dst.node')}`);
