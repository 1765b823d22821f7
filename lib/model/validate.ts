/**
 * Cross-reference and semantic rules of a mesh: what the schema of one resource cannot see.
 * App Mesh's API rules where Weft keeps them, plus Weft's own. Every problem is reported, each at
 * its field (with its line when the source knows it); nothing is fixed up or normalised.
 * Fields the sidecar does not apply yet (not-applied.ts) are errors when they are security policy
 * and warnings ({@link meshWarnings}) otherwise.
 */
import { durationMs } from './duration';
import { type ModelError, errorAt } from './errors';
import { resourceFieldsNotApplied } from './not-applied';
import {
  type Duration,
  type GatewayRouteResource,
  type MeshModel,
  type Resource,
  type RouteResource,
  type VirtualGatewayResource,
  type VirtualNodeResource,
  type VirtualRouterResource,
  type VirtualServiceResource,
} from './schema';
import { CLOUD_MAP_LIMITS } from '../../proxy/contracts/mesh-layout';
import { regexFeatureMessage, unsupportedRegexFeature } from '../../proxy/contracts/regex-rules';
import { authorizationIssues } from '../../proxy/contracts/authz-rules';
import { jwtRuleIssues } from '../../proxy/contracts/jwt-rules';
import { parseAccessLogPattern } from '../../proxy/contracts/access-log-format';
import type { ContractIssue } from '../../proxy/contracts/validation';
import { DEFAULT_TRACING_ENDPOINT, TracingSchema } from '../../proxy/contracts/node-config';

type Report = (resource: Resource, path: string, message: string) => void;
type Listener = { portMapping: { port: number; protocol: string } };
type HeaderMatch = { name: string; match?: Record<string, unknown> };

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;
const GATEWAY_ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute'] as const;
const PROTOCOL_OF: Record<string, string> = { httpRoute: 'http', http2Route: 'http2', grpcRoute: 'grpc', tcpRoute: 'tcp' };

const showDuration = (d: Duration) => (typeof d === 'string' ? d : `${d.value}${d.unit}`);
const listenerList = (ls: readonly Listener[]) => ls.map((l) => `${l.portMapping.port}/${l.portMapping.protocol}`).join(', ');

/** Checks everything the per-resource schema cannot: references, protocols, ports, conflicts. */
export function validateMesh(model: MeshModel): ModelError[] {
  const errors: ModelError[] = [];
  const report: Report = (r, path, message) => errors.push(errorAt(r, path, message));
  const meshName = model.mesh.name;
  const byName = <R extends Resource>(rs: readonly R[]) => {
    const m = new Map<string, R>();
    for (const r of rs) if (!m.has(r.name)) m.set(r.name, r);
    return m;
  };
  const ctx: Ctx = {
    meshName,
    report,
    nodes: byName(model.virtualNodes),
    services: byName(model.virtualServices),
    routers: byName(model.virtualRouters),
    gateways: byName(model.virtualGateways),
  };

  checkMembership(model, ctx);
  checkTracing(model.mesh, ctx);
  for (const n of model.virtualNodes) checkVirtualNode(n, ctx);
  for (const g of model.virtualGateways) checkVirtualGateway(g, ctx);
  for (const s of model.virtualServices) checkVirtualService(s, ctx);
  for (const r of model.virtualRouters) checkUniquePorts(r, r.spec.listeners, 'a virtual router', ctx);
  for (const r of model.routes) checkRoute(r, ctx);
  for (const g of model.gatewayRoutes) checkGatewayRoute(g, ctx);
  checkConflicts(model.routes, (r) => r.virtualRouterName, (r) => ctx.routers.get(r.virtualRouterName)?.spec.listeners, 'virtual router', ctx);
  checkConflicts(model.gatewayRoutes, (g) => g.virtualGatewayName, (g) => ctx.gateways.get(g.virtualGatewayName)?.spec.listeners, 'virtual gateway', ctx);
  for (const r of resourcesOf(model)) {
    for (const f of resourceFieldsNotApplied(r)) if (f.severity === 'error') report(r, f.path, f.message);
  }
  return inSourceOrder(errors, model);
}

/**
 * What the mesh runs with but the user may not expect, in source order; none makes the mesh
 * invalid: fields the user wrote that the sidecar does not apply yet and runs without (the node's own
 * listener health check, access logs), and a per-try timeout longer than its
 * route's timeout (App Mesh and Istio accept it; the route timeout caps every try).
 */
export function meshWarnings(model: MeshModel): ModelError[] {
  const warnings = resourcesOf(model).flatMap((r) => resourceFieldsNotApplied(r).filter((f) => f.severity === 'warning').map((f) => errorAt(r, f.path, f.message)));
  for (const route of model.routes) warnings.push(...perTryTimeoutWarnings(route));
  return inSourceOrder(warnings, model);
}

function perTryTimeoutWarnings(route: RouteResource): ModelError[] {
  const found: ModelError[] = [];
  for (const type of ['httpRoute', 'http2Route', 'grpcRoute'] as const) {
    const spec = route.spec[type];
    const perTry = spec?.retryPolicy?.perRetryTimeout;
    const perRequest = spec?.timeout?.perRequest;
    if (perTry === undefined || perRequest === undefined) continue;
    const routeMs = durationMs(perRequest);
    if (routeMs > 0 && durationMs(perTry) > routeMs) {
      found.push(
        errorAt(route, `spec.${type}.retryPolicy.perRetryTimeout`, `the per-try timeout is longer than the route's timeout (${showDuration(perRequest)}), which caps every try and all of them together, got: ${showDuration(perTry)}`),
      );
    }
  }
  return found;
}

function resourcesOf(model: MeshModel): Resource[] {
  return [model.mesh, ...model.virtualNodes, ...model.virtualServices, ...model.virtualRouters, ...model.routes, ...model.virtualGateways, ...model.gatewayRoutes];
}

/** Sorts errors the way a person reads the sources: file by file, top to bottom (stable otherwise). */
function inSourceOrder(errors: ModelError[], model: MeshModel): ModelError[] {
  const files = new Map<string, number>();
  for (const r of resourcesOf(model)) if (!files.has(r.source.file)) files.set(r.source.file, files.size);
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (files.get(a.e.file) ?? 0) - (files.get(b.e.file) ?? 0) || (a.e.line ?? 0) - (b.e.line ?? 0) || a.i - b.i)
    .map(({ e }) => e);
}

interface Ctx {
  meshName: string;
  report: Report;
  nodes: Map<string, VirtualNodeResource>;
  services: Map<string, VirtualServiceResource>;
  routers: Map<string, VirtualRouterResource>;
  gateways: Map<string, VirtualGatewayResource>;
}

/**
 * The mesh's tracing settings, for front ends that build the model without its schema (the
 * constructs): the sampling percentage and the collector URL the node config contract accepts.
 */
function checkTracing(mesh: MeshModel['mesh'], ctx: Ctx): void {
  const tracing = mesh.spec.tracing;
  if (tracing === undefined) return;
  const pct = tracing.samplingPercentage;
  if (pct !== undefined && !(pct >= 0 && pct <= 100)) ctx.report(mesh, 'spec.tracing.samplingPercentage', `must be a percentage from 0 to 100, got: ${pct}`);
  const endpoint = tracing.endpoint;
  if (endpoint !== undefined && !TracingSchema.shape.endpoint.safeParse(endpoint).success) {
    ctx.report(mesh, 'spec.tracing.endpoint', `must be the collector's OTLP/HTTP traces URL (http:// or https://, e.g. ${DEFAULT_TRACING_ENDPOINT}), got: ${endpoint}`);
  }
}

/** Every resource belongs to this mesh and names are unique (routes: within their router or gateway). */
function checkMembership(model: MeshModel, ctx: Ctx): void {
  const groups: [string, readonly Resource[], (r: Resource) => string][] = [
    ['mesh', model.virtualNodes, () => ''],
    ['mesh', model.virtualServices, () => ''],
    ['mesh', model.virtualRouters, () => ''],
    ['mesh', model.virtualGateways, () => ''],
    ['virtual router', model.routes, (r) => (r as RouteResource).virtualRouterName],
    ['virtual gateway', model.gatewayRoutes, (r) => (r as GatewayRouteResource).virtualGatewayName],
  ];
  for (const [scope, resources, parentOf] of groups) {
    const seen = new Set<string>();
    for (const r of resources) {
      if (r.meshName !== ctx.meshName) ctx.report(r, 'metadata.mesh', `a resource of mesh ${ctx.meshName} must name that mesh, got: ${r.meshName}`);
      const key = `${parentOf(r)}/${r.name}`;
      const where = scope === 'mesh' ? `mesh ${ctx.meshName}` : `${scope} ${parentOf(r)}`;
      if (seen.has(key)) ctx.report(r, 'metadata.name', `${r.kind} names must be unique in ${where}, got: ${r.name}`);
      seen.add(key);
    }
  }
}

function checkUniquePorts(r: Resource, listeners: readonly Listener[] | undefined, what: string, ctx: Ctx): void {
  (listeners ?? []).forEach((l, i) => {
    if (listeners!.slice(0, i).some((o) => o.portMapping.port === l.portMapping.port)) {
      ctx.report(r, `spec.listeners[${i}].portMapping.port`, `listener ports must be unique in ${what}, got: ${l.portMapping.port}`);
    }
  });
}

interface ListenerExtras {
  portMapping: { port: number; protocol: string };
  healthCheck?: { intervalMillis: number; timeoutMillis: number; port?: number };
  timeout?: object;
  connectionPool?: object;
  outlierDetection?: { interval: Duration; baseEjectionDuration: Duration };
  tls?: { certificate: object };
}

/** Rules shared by node and gateway listeners. */
function checkListeners(r: VirtualNodeResource | VirtualGatewayResource, listeners: readonly ListenerExtras[], ctx: Ctx): void {
  listeners.forEach((l, i) => {
    const at = `spec.listeners[${i}]`;
    const protocol = l.portMapping.protocol;
    // App Mesh: the health check's port, when given, is the listener's own port.
    if (l.healthCheck?.port !== undefined && l.healthCheck.port !== l.portMapping.port) {
      ctx.report(r, `${at}.healthCheck.port`, `a health check port must be its listener's port ${l.portMapping.port}, got: ${l.healthCheck.port}`);
    }
    if (l.healthCheck && l.healthCheck.timeoutMillis >= l.healthCheck.intervalMillis) {
      ctx.report(r, `${at}.healthCheck.timeoutMillis`, `health check timeoutMillis must be less than intervalMillis (${l.healthCheck.intervalMillis}), got: ${l.healthCheck.timeoutMillis}`);
    }
    for (const field of ['timeout', 'connectionPool'] as const) {
      for (const key of Object.keys(l[field] ?? {})) {
        if (key !== protocol) ctx.report(r, `${at}.${field}.${key}`, `a listener's ${field} must be given for its protocol ${protocol}, got: ${key}`);
      }
    }
    for (const field of ['interval', 'baseEjectionDuration'] as const) {
      const d = l.outlierDetection?.[field];
      if (d !== undefined && durationMs(d) <= 0) ctx.report(r, `${at}.outlierDetection.${field}`, `outlier detection ${field} must be greater than 0, got: ${showDuration(d)}`);
    }
    const cert = l.tls?.certificate;
    const acm = cert && 'acm' in cert ? (cert.acm as { certificateArn: string }) : undefined;
    if (acm) {
      ctx.report(r, `${at}.tls.certificate.acm`, `ACM certificates are not supported by Weft yet; use sds (the mesh identity) or file, got: ${acm.certificateArn}`);
    }
  });
}

function checkInboundPolicy(r: VirtualNodeResource | VirtualGatewayResource, ctx: Ctx): void {
  for (const issue of authorizationIssues(r.spec.authorization ?? [], 'spec.authorization')) ctx.report(r, issue.path, issue.message);
  for (const issue of jwtRuleIssues(r.spec.jwt ?? [], 'spec.jwt')) ctx.report(r, issue.path, issue.message);
}

function checkVirtualNode(n: VirtualNodeResource, ctx: Ctx): void {
  const listeners = n.spec.listeners ?? [];
  checkUniquePorts(n, listeners, 'a virtual node', ctx);
  checkListeners(n, listeners, ctx);
  checkInboundPolicy(n, ctx);
  checkAccessLog(n, ctx);
  // A node without listeners is a client only (it calls backends) and needs no discovery.
  if (listeners.length > 0 && !n.spec.serviceDiscovery) {
    ctx.report(n, 'spec.serviceDiscovery', `a virtual node with listeners needs serviceDiscovery (dns, awsCloudMap or static) so callers can find it, got: ${listeners.length} listener(s)`);
  }
  const attributes = n.spec.serviceDiscovery && 'awsCloudMap' in n.spec.serviceDiscovery ? n.spec.serviceDiscovery.awsCloudMap.attributes ?? [] : [];
  if (attributes.length > CLOUD_MAP_LIMITS.maxAttributes) {
    ctx.report(n, 'spec.serviceDiscovery.awsCloudMap.attributes', `at most ${CLOUD_MAP_LIMITS.maxAttributes} Cloud Map attributes can filter instances, got: ${attributes.length}`);
  }
  const seen = new Set<string>();
  (n.spec.backends ?? []).forEach((b, i) => {
    const name = b.virtualService.virtualServiceName;
    const at = `spec.backends[${i}].virtualService.virtualServiceName`;
    const service = ctx.services.get(name);
    if (!service) ctx.report(n, at, `a backend must name a virtual service of mesh ${ctx.meshName}, got: ${name}`);
    else if (service.spec.provider && 'virtualNode' in service.spec.provider && service.spec.provider.virtualNode.virtualNodeName === n.name) {
      ctx.report(n, at, `a virtual node must not list a virtual service it provides itself as a backend, got: ${name}`);
    }
    if (seen.has(name)) ctx.report(n, at, `backends must not repeat a virtual service, got: ${name}`);
    seen.add(name);
  });
  const lb = n.spec.loadBalancer;
  if (lb?.policy === 'CONSISTENT_HASH' && !lb.consistentHash) {
    ctx.report(n, 'spec.loadBalancer.consistentHash', 'policy CONSISTENT_HASH needs consistentHash (header, cookie or sourceIp) to say what to hash');
  }
  if (lb?.consistentHash && lb.policy !== 'CONSISTENT_HASH') {
    ctx.report(n, 'spec.loadBalancer.policy', `consistentHash is only used with policy CONSISTENT_HASH, got: ${lb.policy}`);
  }
}

function checkVirtualGateway(g: VirtualGatewayResource, ctx: Ctx): void {
  checkUniquePorts(g, g.spec.listeners, 'a virtual gateway', ctx);
  checkListeners(g, g.spec.listeners, ctx);
  checkInboundPolicy(g, ctx);
  checkAccessLog(g, ctx);
}

/** An access log format's operators, parsed as the sidecar will parse them. */
function checkAccessLog(r: VirtualNodeResource | VirtualGatewayResource, ctx: Ctx): void {
  const format = r.spec.logging?.accessLog?.file.format;
  if (format === undefined) return;
  const at = 'spec.logging.accessLog.file.format';
  const issues: ContractIssue[] = [];
  if ('text' in format) parseAccessLogPattern(format.text, `${at}.text`, issues);
  else format.json.forEach((kv, i) => parseAccessLogPattern(kv.value, `${at}.json[${i}].value`, issues));
  for (const issue of issues) ctx.report(r, issue.path, issue.message);
}

function checkVirtualService(s: VirtualServiceResource, ctx: Ctx): void {
  const provider = s.spec.provider;
  if (provider && 'virtualNode' in provider) {
    const name = provider.virtualNode.virtualNodeName;
    const node = ctx.nodes.get(name);
    const at = 'spec.provider.virtualNode.virtualNodeName';
    if (!node) ctx.report(s, at, `the provider must name a virtual node of mesh ${ctx.meshName}, got: ${name}`);
    else if ((node.spec.listeners ?? []).length === 0) ctx.report(s, at, `the provider virtual node needs a listener to receive traffic, got: ${name}`);
  }
  if (provider && 'virtualRouter' in provider && !ctx.routers.has(provider.virtualRouter.virtualRouterName)) {
    ctx.report(s, 'spec.provider.virtualRouter.virtualRouterName', `the provider must name a virtual router of mesh ${ctx.meshName}, got: ${provider.virtualRouter.virtualRouterName}`);
  }
}

/** The one route type set, or undefined after reporting. */
function routeType<T extends string>(r: Resource, spec: Partial<Record<T, unknown>>, types: readonly T[], what: string, ctx: Ctx): T | undefined {
  const set = types.filter((t) => spec[t] !== undefined);
  if (set.length === 1) return set[0];
  ctx.report(r, 'spec', `${what} must set exactly one of ${types.join(', ')}, got: ${set.length === 0 ? 'none' : set.join(', ')}`);
  return undefined;
}

/** The route's protocol has a listener on its router or gateway, and `match.port` picks one. */
function checkListenerMatch(r: Resource, type: string, port: number | undefined, parent: string, listeners: readonly Listener[], ctx: Ctx): void {
  const protocol = PROTOCOL_OF[type];
  const at = `spec.${type}`;
  if (!listeners.some((l) => l.portMapping.protocol === protocol)) {
    ctx.report(r, at, `a ${type} needs a ${protocol} listener on ${parent}, got: ${listenerList(listeners)}`);
    return;
  }
  if (port === undefined) {
    if (listeners.length > 1) ctx.report(r, `${at}.match.port`, `match.port is required when ${parent} has several listeners, got: ${listenerList(listeners)}`);
    return;
  }
  const listener = listeners.find((l) => l.portMapping.port === port);
  if (!listener) ctx.report(r, `${at}.match.port`, `match.port must be a listener port of ${parent} (${listenerList(listeners)}), got: ${port}`);
  else if (listener.portMapping.protocol !== protocol) ctx.report(r, `${at}.match.port`, `match.port must be a ${protocol} listener of ${parent}, got: ${port}/${listener.portMapping.protocol}`);
}

/** `port` names a listener of the target; it is required when the target has several. */
function checkTargetPort(r: Resource, at: string, port: number | undefined, target: string, listeners: readonly Listener[], ctx: Ctx): void {
  if (port === undefined) {
    if (listeners.length > 1) ctx.report(r, `${at}.port`, `port is required when ${target} has several listeners, got: ${listenerList(listeners)}`);
  } else if (!listeners.some((l) => l.portMapping.port === port)) {
    ctx.report(r, `${at}.port`, `port must be a listener port of ${target} (${listenerList(listeners)}), got: ${port}`);
  }
}

/** A route target or mirror: a known node with a listener on the given port. */
function checkNodeTarget(r: Resource, at: string, nodeName: string, port: number | undefined, ctx: Ctx): void {
  const node = ctx.nodes.get(nodeName);
  if (!node) {
    ctx.report(r, `${at}.virtualNode`, `must name a virtual node of mesh ${ctx.meshName}, got: ${nodeName}`);
    return;
  }
  const listeners = node.spec.listeners ?? [];
  if (listeners.length === 0) {
    ctx.report(r, `${at}.virtualNode`, `a route target needs a virtual node with listeners, got: ${nodeName}`);
    return;
  }
  checkTargetPort(r, at, port, `virtual node ${nodeName}`, listeners, ctx);
}

function checkRegex(r: Resource, at: string, source: string, ctx: Ctx): void {
  try {
    new RegExp(source);
  } catch (e) {
    ctx.report(r, at, `must be a valid regular expression (${(e as Error).message.replace(/^Invalid regular expression: /, '')}), got: ${source}`);
    return;
  }
  const feature = unsupportedRegexFeature(source);
  if (feature !== undefined) ctx.report(r, at, `${regexFeatureMessage(feature)}, got: ${source}`);
}

function checkHeaderMatches(r: Resource, at: string, headers: readonly HeaderMatch[] | undefined, ctx: Ctx): void {
  (headers ?? []).forEach((h, i) => {
    const m = h.match;
    if (m && typeof m.regex === 'string') checkRegex(r, `${at}[${i}].match.regex`, m.regex, ctx);
    const range = m?.range as { start: number; end: number } | undefined;
    if (range && range.start >= range.end) ctx.report(r, `${at}[${i}].match.range`, `a header range needs start less than end, got: ${range.start}..${range.end}`);
  });
}

function checkPathMatch(r: Resource, at: string, match: { prefix?: string; path?: { exact: string } | { regex: string } }, ctx: Ctx): void {
  if (match.prefix !== undefined && match.path !== undefined) ctx.report(r, at, `a match takes prefix or path, not both, got: prefix ${match.prefix}`);
  if (match.path && 'regex' in match.path) checkRegex(r, `${at}.path.regex`, match.path.regex, ctx);
}

function checkRoute(route: RouteResource, ctx: Ctx): void {
  const router = ctx.routers.get(route.virtualRouterName);
  if (!router) ctx.report(route, 'metadata.virtualRouter', `a route must name a virtual router of mesh ${ctx.meshName}, got: ${route.virtualRouterName}`);
  const type = routeType(route, route.spec, ROUTE_TYPES, 'a route', ctx);
  if (!type) return;
  const at = `spec.${type}`;
  const spec = route.spec[type]!;
  if (router) checkListenerMatch(route, type, spec.match?.port, `virtual router ${router.name}`, router.spec.listeners, ctx);

  if ('weightedTargets' in spec.action) {
    const targets = spec.action.weightedTargets;
    const tat = `${at}.action.weightedTargets`;
    if (targets.every((t) => t.weight === 0)) ctx.report(route, tat, `at least one weighted target needs a weight above 0, got: ${targets.map((t) => t.weight).join(', ')}`);
    const seen = new Set<string>();
    targets.forEach((t, j) => {
      checkNodeTarget(route, `${tat}[${j}]`, t.virtualNode, t.port, ctx);
      const key = `${t.virtualNode}:${t.port ?? ''}`;
      if (seen.has(key)) ctx.report(route, `${tat}[${j}]`, `weighted targets must not repeat a virtual node and port, got: ${t.virtualNode}${t.port !== undefined ? `:${t.port}` : ''}`);
      seen.add(key);
    });
  }
  if (type === 'tcpRoute') return;
  const rich = route.spec[type]!;
  if (rich.mirror) checkNodeTarget(route, `${at}.mirror`, rich.mirror.virtualNode, rich.mirror.port, ctx);
  checkRetryPolicy(route, type, ctx);
  checkFault(route, type, ctx);
  if (type === 'grpcRoute') {
    const m = route.spec.grpcRoute!.match;
    if (m.methodName !== undefined && m.serviceName === undefined) ctx.report(route, `${at}.match.methodName`, `a methodName match needs serviceName, got: ${m.methodName}`);
    checkHeaderMatches(route, `${at}.match.metadata`, m.metadata, ctx);
    return;
  }
  const http = route.spec[type]!;
  const m = http.match;
  checkPathMatch(route, `${at}.match`, m, ctx);
  if (m.prefix === undefined && m.path === undefined) ctx.report(route, `${at}.match`, 'an HTTP route match needs prefix or path (App Mesh requires one), got: none');
  // As Istio's ignoreUriCase: a regex says its own case rules.
  if (m.ignoreCase && m.path && 'regex' in m.path) ctx.report(route, `${at}.match.ignoreCase`, `ignoreCase applies to prefix and exact path matches, not to a regex, got: ${m.path.regex}`);
  checkHeaderMatches(route, `${at}.match.headers`, m.headers, ctx);
  const redirect = 'redirect' in http.action ? http.action.redirect : undefined;
  if (redirect?.path !== undefined && redirect.prefix !== undefined) ctx.report(route, `${at}.action.redirect`, `a redirect takes path or prefix, not both, got: path ${redirect.path}`);
  const rw = http.rewrite;
  if (rw) {
    if (redirect) ctx.report(route, `${at}.rewrite`, 'a redirect does not forward the request, so rewrite cannot apply; remove one of them');
    if (rw.prefix !== undefined && rw.path !== undefined) ctx.report(route, `${at}.rewrite`, `a rewrite takes prefix or path, not both, got: prefix ${rw.prefix}`);
    else if (rw.prefix !== undefined && m.prefix === undefined) ctx.report(route, `${at}.rewrite.prefix`, `a prefix rewrite replaces the matched prefix, so it needs match.prefix, got: ${rw.prefix}`);
  }
}

function checkRetryPolicy(route: RouteResource, type: 'httpRoute' | 'http2Route' | 'grpcRoute', ctx: Ctx): void {
  const p = route.spec[type]!.retryPolicy;
  if (!p) return;
  const at = `spec.${type}.retryPolicy`;
  const fields = ['httpRetryEvents', 'tcpRetryEvents', ...(type === 'grpcRoute' ? ['grpcRetryEvents'] : []), 'retriableStatusCodes'];
  if (!fields.some((f) => ((p as unknown as Record<string, unknown[] | undefined>)[f] ?? []).length > 0)) {
    ctx.report(route, at, `a retry policy needs at least one retry event (${fields.join(', ')}), got: none`);
  }
  if (durationMs(p.perRetryTimeout) <= 0) ctx.report(route, `${at}.perRetryTimeout`, `perRetryTimeout must be greater than 0, got: ${showDuration(p.perRetryTimeout)}`);
}

function checkFault(route: RouteResource, type: 'httpRoute' | 'http2Route' | 'grpcRoute', ctx: Ctx): void {
  const f = route.spec[type]!.fault;
  if (!f) return;
  const at = `spec.${type}.fault`;
  if (!f.delay && !f.abort) ctx.report(route, at, 'a fault needs delay or abort, got: none');
  if (f.delay && durationMs(f.delay.fixedDelay) <= 0) ctx.report(route, `${at}.delay.fixedDelay`, `a delay fault's fixedDelay must be greater than 0, got: ${showDuration(f.delay.fixedDelay)}`);
  const abort = f.abort;
  if (!abort) return;
  const [wanted, other] = type === 'grpcRoute' ? (['grpcStatus', 'httpStatus'] as const) : (['httpStatus', 'grpcStatus'] as const);
  if (abort[wanted] === undefined) ctx.report(route, `${at}.abort`, `an abort fault in a ${type} needs ${wanted}`);
  if (abort[other] !== undefined) ctx.report(route, `${at}.abort.${other}`, `an abort fault in a ${type} answers with ${wanted}, not ${other}, got: ${abort[other]}`);
}

function checkGatewayRoute(g: GatewayRouteResource, ctx: Ctx): void {
  const gateway = ctx.gateways.get(g.virtualGatewayName);
  if (!gateway) ctx.report(g, 'metadata.virtualGateway', `a gateway route must name a virtual gateway of mesh ${ctx.meshName}, got: ${g.virtualGatewayName}`);
  const type = routeType(g, g.spec, GATEWAY_ROUTE_TYPES, 'a gateway route', ctx);
  if (!type) return;
  const at = `spec.${type}`;
  const spec = g.spec[type]!;
  if (gateway) checkListenerMatch(g, type, spec.match.port, `virtual gateway ${gateway.name}`, gateway.spec.listeners, ctx);

  const target = spec.action.target;
  const serviceName = target.virtualService.virtualServiceName;
  const service = ctx.services.get(serviceName);
  if (!service) {
    ctx.report(g, `${at}.action.target.virtualService.virtualServiceName`, `the target must name a virtual service of mesh ${ctx.meshName}, got: ${serviceName}`);
  } else {
    const provider = service.spec.provider;
    const providerListeners =
      provider && 'virtualNode' in provider
        ? ctx.nodes.get(provider.virtualNode.virtualNodeName)?.spec.listeners
        : provider && 'virtualRouter' in provider
          ? ctx.routers.get(provider.virtualRouter.virtualRouterName)?.spec.listeners
          : undefined;
    if (providerListeners) checkTargetPort(g, `${at}.action.target`, target.port, `the provider of virtual service ${serviceName}`, providerListeners, ctx);
  }

  if (type === 'grpcRoute') {
    checkHeaderMatches(g, `${at}.match.metadata`, g.spec.grpcRoute!.match.metadata, ctx);
    return;
  }
  const http = g.spec[type]!;
  const m = http.match;
  checkPathMatch(g, `${at}.match`, m, ctx);
  if (m.prefix === undefined && m.path === undefined && m.hostname === undefined) {
    ctx.report(g, `${at}.match`, 'a gateway route match needs prefix, path or hostname, got: none');
  }
  checkHeaderMatches(g, `${at}.match.headers`, m.headers, ctx);
  const rw = http.action.rewrite;
  if (rw?.prefix) {
    if (rw.prefix.defaultPrefix !== undefined && rw.prefix.value !== undefined) {
      ctx.report(g, `${at}.action.rewrite.prefix`, `a prefix rewrite takes defaultPrefix or value, not both, got: defaultPrefix ${rw.prefix.defaultPrefix}`);
    }
    if (m.prefix === undefined) ctx.report(g, `${at}.action.rewrite.prefix`, `a prefix rewrite needs match.prefix, got: ${rw.prefix.value ?? `defaultPrefix ${rw.prefix.defaultPrefix}`}`);
  }
  if (rw?.path && m.path === undefined) ctx.report(g, `${at}.action.rewrite.path`, `a path rewrite needs match.path (exact or regex), got: ${rw.path.exact}`);
}

/** Stable JSON with sorted keys, so equal matches compare equal whatever their field order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Two routes of one router (or gateway) with the same priority and the same match: the second can
 * never be chosen. Different priorities, or the same priority with different matches, are fine.
 */
function checkConflicts<R extends RouteResource | GatewayRouteResource>(
  routes: readonly R[],
  parentOf: (r: R) => string,
  listenersOf: (r: R) => readonly Listener[] | undefined,
  scope: string,
  ctx: Ctx,
): void {
  const seen = new Map<string, R>();
  for (const r of routes) {
    const spec = r.spec as Record<string, unknown>;
    const types = Object.keys(spec).filter((k) => k.endsWith('Route') && spec[k] !== undefined);
    if (types.length !== 1) continue;
    const type = types[0];
    const match = { ...((spec[type] as { match?: Record<string, unknown> }).match ?? {}) };
    // With one listener, an absent port means that listener's port.
    const listeners = listenersOf(r);
    if (match.port === undefined && listeners?.length === 1) match.port = listeners[0].portMapping.port;
    const key = canonical([parentOf(r), spec.priority ?? null, type, match]);
    const first = seen.get(key);
    if (first) {
      ctx.report(r, `spec.${type}.match`, `${r.kind} ${first.name} of ${scope} ${parentOf(r)} has the same priority and match, so this one can never be chosen, got: priority ${spec.priority ?? 'unset'}`);
    } else seen.set(key, r);
  }
}
