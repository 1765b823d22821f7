/**
 * Where Weft's own sources are: the Lambda entry points and the sidecar Dockerfile are built from
 * the package, whether this code runs from lib/ (ts-node, jest) or from a bundle in dist/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function findWeftRoot(marker: string): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, marker))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find '${marker}' in any directory above ${__dirname}; is Weft installed with its sources?`);
    dir = parent;
  }
}
