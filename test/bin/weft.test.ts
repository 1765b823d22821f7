import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePorts } from '../../bench/ports';
import { parseNodeConfig, SETTINGS, type NodeConfig } from '../../proxy/contracts';

const root = join(__dirname, '..', '..');
const canary = join(root, 'examples', 'order-service-canary.yaml');

function weft(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'weft.js'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let work: string;
beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'pipe' });
  work = mkdtempSync(join(tmpdir(), 'weft-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('weft validate', () => {
  test('a valid mesh with nothing to warn about (its retries are applied): exit 0, a one-line summary, nothing on stderr', () => {
    const r = weft('validate', canary);
    expect(r.stdout).toBe('ok: 1 mesh, 3 virtual nodes, 1 virtual service, 1 router, 2 routes, 0 gateways, 0 gateway routes, 3 node configs\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  const meshWith = (name: string, ...lines: string[]) => {
    const file = join(work, name);
    writeFileSync(
      file,
      [
        'apiVersion: weft.dev/v1alpha1',
        'kind: Mesh',
        'metadata: { name: m }',
        '---',
        'apiVersion: weft.dev/v1alpha1',
        'kind: VirtualNode',
        'metadata: { name: a, mesh: m }',
        'spec:',
        '  listeners: [{ portMapping: { port: 8080, protocol: http } }]',
        '  serviceDiscovery: { dns: { hostname: a.m.local } }',
        ...lines,
        '',
      ].join('\n'),
    );
    return file;
  };

  test('a per-try timeout longer than the route timeout: a warning with file, line and path, exit 0', () => {
    const file = meshWith(
      'retries.yaml',
      '---',
      'apiVersion: weft.dev/v1alpha1',
      'kind: VirtualRouter',
      'metadata: { name: r, mesh: m }',
      'spec: { listeners: [{ portMapping: { port: 8080, protocol: http } }] }',
      '---',
      'apiVersion: weft.dev/v1alpha1',
      'kind: Route',
      'metadata: { name: retries, mesh: m, virtualRouter: r }',
      'spec:',
      '  httpRoute:',
      '    match: { prefix: / }',
      '    action: { weightedTargets: [{ virtualNode: a, weight: 1 }] }',
      '    retryPolicy: { maxRetries: 3, perRetryTimeout: 2s, httpRetryEvents: [server-error] }',
      '    timeout: { perRequest: 1s }',
    );
    const r = weft('validate', file);
    expect(r.stderr).toBe(
      `${file}:24: warning: Route/retries: spec.httpRoute.retryPolicy.perRetryTimeout: the per-try timeout is longer than the route's timeout (1s), which caps every try and all of them together, got: 2s\n1 warning\n`,
    );
    expect(r.stdout).toMatch(/^ok: 1 mesh, /);
    expect(r.status).toBe(0);
    // compile warns the same way and still writes the config, which carries the policy.
    const c = weft('compile', file, '--node', 'a');
    expect(c.status).toBe(0);
    expect(c.stderr).toBe(r.stderr);
    expect(parseNodeConfig(c.stdout).node.name).toBe('a');
  });

  test('an authorization policy with a bad CIDR: an error with file, line and path, exit 1', () => {
    const file = meshWith('authorization.yaml', '  authorization:', '    - name: allow-office', "      rules: [{ from: [{ ipBlocks: ['10.0.0.0/33'] }] }]");
    const r = weft('validate', file);
    expect(r.stderr).toBe(`${file}:13: VirtualNode/a: spec.authorization[0].rules[0].from[0].ipBlocks[0]: '10.0.0.0/33' is not an IPv4 or IPv6 address or CIDR\n1 error\n`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
    const c = weft('compile', file);
    expect([c.status, c.stdout, c.stderr]).toEqual([1, '', r.stderr]);
  });

  test('a directory: every mesh in it', () => {
    const r = weft('validate', join(root, 'examples'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: 2 meshes, /);
  });

  test('an invalid mesh: exit 1, every error on its own line, then the count', () => {
    const file = join(work, 'broken.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: weft.dev/v1alpha1',
        'kind: Mesh',
        'metadata: { name: m }',
        '---',
        'apiVersion: weft.dev/v1alpha1',
        'kind: VirtualNode',
        'metadata: { name: a, mesh: m }',
        'spec:',
        '  listeners:',
        '    - portMapping: { port: 70000, protocol: http }',
        '---',
        'apiVersion: weft.dev/v1alpha1',
        'kind: VirtualNode',
        'metadata: { name: b, mesh: m }',
        'spec:',
        '  listeners:',
        '    - portMapping: { port: 80, protocol: smtp }',
        '',
      ].join('\n'),
    );
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `${file}:10: VirtualNode/a: spec.listeners[0].portMapping.port: must be at most 65535, got: 70000`,
      `${file}:17: VirtualNode/b: spec.listeners[0].portMapping.protocol: must be one of http, http2, grpc, tcp, got: smtp`,
      '2 errors',
    ]);
  });

  test('a reference to nothing: exit 1 with the line of the reference', () => {
    const file = join(work, 'dangling.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: weft.dev/v1alpha1',
        'kind: Mesh',
        'metadata: { name: m }',
        '---',
        'apiVersion: weft.dev/v1alpha1',
        'kind: VirtualNode',
        'metadata: { name: a, mesh: m }',
        'spec:',
        '  backends:',
        '    - virtualService: { virtualServiceName: nowhere.svc }',
        '',
      ].join('\n'),
    );
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${file}:10: VirtualNode/a: spec.backends[0].virtualService.virtualServiceName: a backend must name a virtual service of mesh m, got: nowhere.svc\n1 error\n`);
  });

  test('a misspelt field of the Mesh: one error naming it with a suggestion, not one per resource of the mesh', () => {
    const file = join(work, 'typo.yaml');
    writeFileSync(file, readFileSync(canary, 'utf8').replace('egressFilter:', 'egresFilter:'));
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${file}:17: Mesh/production: spec.egresFilter: unknown field 'egresFilter'; did you mean 'egressFilter'?\n1 error\n`);
  });

  test('the same directory twice: each file is read once, as if named once', () => {
    const once = weft('validate', 'examples/');
    const twice = weft('validate', 'examples/', 'examples', join(root, 'examples', 'gateway.yaml'));
    expect(once.status).toBe(0);
    expect(twice).toEqual(once);
  });

  test('a 5 MB name: the error echoes 200 characters of it and its length', () => {
    const file = meshWith('big-name.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('metadata: { name: a, mesh: m }', `metadata: { name: ${'n'.repeat(5_000_000)}, mesh: m }`));
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${file}:7: VirtualNode/${'n'.repeat(188)}... (5000012 characters): metadata.name: metadata.name must be at most 255 characters, got: 5000000\n1 error\n`);
  });

  test('a binary file: one error, no control bytes printed', () => {
    const file = join(work, 'binary.yaml');
    const bytes = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(file, bytes);
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${file}:\\d+: not a text file \\(control byte 0x[0-9a-f]{2}\\): mesh sources are YAML or JSON text\n1 error\n$`));
  });

  test('100,000 nested [: nesting too deep, with file and line', () => {
    const file = join(work, 'deep.yaml');
    writeFileSync(file, `# deep\n${'['.repeat(100_000)}\n`);
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${file}:2: nesting too deep: more than 256 levels of [ and {\n1 error\n`);
  });

  test('a YAML syntax error: reported at the line where the bracket was left open', () => {
    const file = meshWith('syntax.yaml', '---', 'apiVersion: weft.dev/v1alpha1', 'kind: VirtualService', 'metadata: { name: a.m.local, mesh: m', 'spec: {}');
    const r = weft('validate', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${file}:14: Flow map in block collection must be sufficiently indented and end with a }\n1 error\n`);
  });

  test('a missing file: exit 1 with the path', () => {
    const r = weft('validate', join(work, 'nope.yaml'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nope.yaml');
  });

  test('no arguments: usage error', () => {
    const r = weft('validate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: weft validate');
  });
});

describe('weft compile', () => {
  test('--node prints that node config as one object the sidecar accepts', () => {
    const r = weft('compile', canary, '--node', 'api-gateway');
    expect(r.status).toBe(0);
    const config = parseNodeConfig(r.stdout);
    expect(config.node.name).toBe('api-gateway');
    expect(config.clusters.map((c) => c.name)).toEqual(['order-service-v1:8080', 'order-service-v2:8080']);
  });

  test('without --node prints an array of every config', () => {
    const r = weft('compile', canary);
    expect(r.status).toBe(0);
    const configs = JSON.parse(r.stdout) as NodeConfig[];
    expect(configs.map((c) => c.node.name)).toEqual(['api-gateway', 'order-service-v1', 'order-service-v2']);
  });

  test('--out writes <dir>/<mesh>/nodes/<node>.json', () => {
    const out = join(work, 'out');
    const r = weft('compile', canary, '--out', out);
    expect(r.status).toBe(0);
    const written = join(out, 'production', 'nodes', 'order-service-v2.json');
    expect(r.stdout).toContain(`wrote ${written}\n`);
    expect(parseNodeConfig(readFileSync(written, 'utf8')).node.name).toBe('order-service-v2');
  });

  test('--out replaces a config by renaming a finished file over it, so a watching sidecar never reads half of one', () => {
    const out = join(work, 'atomic');
    const nodes = join(out, 'production', 'nodes');
    mkdirSync(nodes, { recursive: true });
    const target = join(nodes, 'api-gateway.json');
    writeFileSync(target, 'the previous config');
    const before = statSync(target).ino;
    const r = weft('compile', canary, '--node', 'api-gateway', '--out', out);
    expect(r.status).toBe(0);
    // Written in place, the file would keep its inode; a rename brings the new file's.
    expect(statSync(target).ino).not.toBe(before);
    expect(parseNodeConfig(readFileSync(target, 'utf8')).node.name).toBe('api-gateway');
    expect(readdirSync(nodes)).toEqual(['api-gateway.json']);
  });

  test('an unknown --node: exit 1 naming it', () => {
    const r = weft('compile', canary, '--node', 'no-such-node');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'no-such-node'");
  });

  test('an unknown flag: exit 2 with the command usage', () => {
    const r = weft('compile', canary, '--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: weft compile');
  });
});

describe('weft proxy', () => {
  // A sidecar that starts would run until killed: every run here is one that must stop at start,
  // and the timeout only keeps a regression from hanging the suite.
  const proxy = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, 'dist', 'weft.js'), 'proxy', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  let config: string;
  let endpoints: string;
  beforeAll(() => {
    expect(weft('compile', canary, '--node', 'api-gateway', '--out', join(work, 'proxy')).status).toBe(0);
    config = join(work, 'proxy', 'production', 'nodes', 'api-gateway.json');
    endpoints = join(work, 'proxy', 'endpoints.json');
    writeFileSync(endpoints, JSON.stringify({ schema: 'weft.dev/endpoints/v1', services: {} }));
  });

  test('--help shows every setting with its flag, variable and default, as the settings table says them', () => {
    const r = proxy('--help');
    expect(r.status).toBe(0);
    for (const s of Object.values(SETTINGS)) {
      expect(r.stdout).toContain(`\n  ${s.flag}, ${s.env}${s.default === undefined ? '' : ` (default: ${String(s.default)})`}\n      ${s.doc}\n`);
    }
    expect(r.stdout).toContain('--inbound-port, WEFT_INBOUND_PORT (default: 15000)');
    expect(r.stdout).toContain('--egress-port, WEFT_EGRESS_PORT (default: 15001)');
    expect(r.stdout).toContain('--admin-port, WEFT_ADMIN_PORT (default: 9901)');
    expect(r.stdout).toContain('--app-ports, WEFT_APP_PORTS\n      Local app ports; default: the node config listener ports.');
    expect(weft('help', 'proxy').stdout).toBe(r.stdout);
  });

  test('a --log-level or --metrics outside its set: exit 2, the allowed values, then the usage', () => {
    const r = proxy('--config', config, '--log-level', 'loud', '--metrics', 'statsd');
    expect(r.status).toBe(2);
    const [line, ...rest] = r.stderr.split('\n');
    expect(JSON.parse(line)).toMatchObject({
      event: 'settings_invalid',
      code: 'WEFT_ERR_SETTINGS_INVALID',
      issues: [
        { path: '--metrics', message: 'expected \'none\' or a comma-separated list of prometheus, emf, got: "statsd"' },
        { path: '--log-level', message: 'expected one of debug, info, warn, error, got: "loud"' },
      ],
    });
    expect(rest.join('\n')).toContain('usage: weft proxy [flags]');
  });

  /** Runs `weft proxy` with a port held by another socket; returns its `sidecar_start_failed` lines. */
  const startWithPortHeld = async (args: (held: number, ports: Record<string, number>) => string[]) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const held = (holder.address() as AddressInfo).port;
    try {
      const [inbound, egress, admin] = await freePorts(3);
      const r = proxy(...args(held, { '--inbound-port': inbound, '--egress-port': egress, '--admin-port': admin }), '--endpoints', `file:${endpoints}`, '--listen-address', '127.0.0.1', '--metrics', 'none');
      expect(r.status).toBe(1);
      return { held, failed: r.stdout.split('\n').filter((l) => l.includes('sidecar_start_failed')).map((l) => JSON.parse(l) as { code: string; message: string }) };
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  };
  const flagsOf = (ports: Record<string, number>) => Object.entries(ports).flatMap(([f, p]) => [f, String(p)]);

  test.each([
    ['--egress-port', 'WEFT_EGRESS_PORT', 'the egress port'],
    ['--admin-port', 'WEFT_ADMIN_PORT', 'the admin port'],
  ])('a port already in use (%s): exit 1 naming the flag and variable that move it', async (flag, env, what) => {
    const { held, failed } = await startWithPortHeld((port, ports) => ['--config', config, ...flagsOf({ ...ports, [flag]: port })]);
    expect(failed).toEqual([
      expect.objectContaining({
        code: 'WEFT_ERR_SIDECAR_START_FAILED',
        message: `cannot listen: ${what} (127.0.0.1:${held}) is already in use: set ${flag} (or ${env}) to another port, or stop what holds it`,
      }),
    ]);
  });

  test("a gateway listener port already in use: exit 1 saying it is the mesh's port", async () => {
    const { held, failed } = await startWithPortHeld((port, ports) => {
      const mesh = join(work, 'gateway-port.yaml');
      writeFileSync(
        mesh,
        [
          'apiVersion: weft.dev/v1alpha1',
          'kind: Mesh',
          'metadata: { name: m }',
          '---',
          'apiVersion: weft.dev/v1alpha1',
          'kind: VirtualGateway',
          'metadata: { name: ingress, mesh: m }',
          `spec: { listeners: [{ portMapping: { port: ${port}, protocol: http } }] }`,
        ].join('\n'),
      );
      expect(weft('compile', mesh, '--out', join(work, 'gateway-port')).status).toBe(0);
      return ['--config', join(work, 'gateway-port', 'm', 'nodes', 'ingress.json'), ...flagsOf(ports)];
    });
    expect(failed).toEqual([
      expect.objectContaining({
        code: 'WEFT_ERR_SIDECAR_START_FAILED',
        message: `cannot listen: gateway listener port ${held} (127.0.0.1:${held}) is already in use: change the listener port in the mesh, or stop what holds it`,
      }),
    ]);
  });

  test.each([['YAML', canary], ['JSON', 'json']])('a mesh file (%s) given as --config: exit 1, saying to run weft compile', (_kind, source) => {
    let file = source;
    if (source === 'json') {
      file = join(work, 'mesh.json');
      writeFileSync(file, JSON.stringify({ apiVersion: 'weft.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'm' } }));
    }
    const r = proxy('--config', file, '--endpoints', `file:${endpoints}`, '--metrics', 'none');
    expect(r.status).toBe(1);
    const failed = r.stdout.split('\n').filter((l) => l.includes('sidecar_start_failed')).map((l) => JSON.parse(l) as { code: string; message: string });
    expect(failed).toHaveLength(1);
    expect(failed[0].code).toBe('WEFT_ERR_NODE_CONFIG_INVALID');
    expect(failed[0].message).toContain(`${file}: `);
    expect(failed[0].message).toContain("this is a mesh file (Weft resources or a CloudFormation template), not a node config: compile it first with 'weft compile <file> --node <name> --out <dir>'");
  });
});

describe('help and usage', () => {
  test.each([[['--help']], [['help']]])('%j prints the command list', (args) => {
    const r = weft(...args);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: weft <command>/);
    expect(r.stdout).toMatch(/^ {2}validate +check mesh files/m);
    expect(r.stdout).toMatch(/^ {2}compile +compile mesh files/m);
  });

  test.each([[['help', 'compile']], [['compile', '--help']]])('%j prints the command usage', (args) => {
    const r = weft(...args);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: weft compile <file\|dir>\.\.\. \[--node NAME\]\.\.\. \[--out DIR\]/);
  });

  test('an unknown command: exit 2 with the command list', () => {
    const r = weft('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("weft: unknown command 'frobnicate'");
    expect(r.stderr).toContain('usage: weft <command>');
  });

  test('no command: exit 2', () => {
    expect(weft().status).toBe(2);
  });
});
