/**
 * Virtual gateway routes (App Mesh GatewayRoute): from an edge request to a virtual service of the
 * mesh, with App Mesh's path and hostname rewrites.
 */
import type { GatewayRoute } from '../contracts/node-config';
import type { ContractIssue } from '../contracts/validation';
import {
  compileHeaderMatches,
  compilePathMatch,
  compileQueryMatches,
  conditionsHold,
  matchedPrefixLength,
  type CompiledConditions,
} from './conditions';
import { originalAuthority, replacePrefix } from './rewrite';
import type { OutboundTarget, RouteRequest } from './types';

const HOST_ANY = 0;
const HOST_EXACT = 1;
const HOST_SUFFIX = 2;

export interface CompiledGatewayRoute {
  route: GatewayRoute;
  hostKind: number;
  /** Lowercased hostname or suffix. */
  host: string;
  when: CompiledConditions;
  target: OutboundTarget;
  rewritePath: string | undefined;
  rewritePrefix: string | undefined;
  /** The authority to send when the route rewrites Host; undefined keeps the request's. */
  targetAuthority: string | undefined;
}

export function compileGatewayRoutes(
  routes: readonly GatewayRoute[],
  resolve: (virtualService: string, port: number | undefined) => OutboundTarget | undefined,
  where: string,
  issues: ContractIssue[],
): CompiledGatewayRoute[] {
  const out: CompiledGatewayRoute[] = [];
  routes.forEach((route, i) => {
    const at = `${where}[${i}]`;
    const m = route.match;
    const target = resolve(route.target.virtualService, route.target.port);
    if (target === undefined) {
      const port = route.target.port === undefined ? '' : ` port ${route.target.port}`;
      issues.push({ path: `${at}.target`, message: `virtual service is not among the outbound services of this gateway, got: ${route.target.virtualService}${port}` });
      return;
    }
    const grpc = route.protocol === 'grpc';
    const when: CompiledConditions = {
      path: compilePathMatch(m.path, false, `${at}.match.path`, issues),
      method: m.method?.toUpperCase(),
      scheme: undefined,
      port: m.port,
      headers: compileHeaderMatches(m.headers, `${at}.match.headers`, issues),
      query: compileQueryMatches(m.queryParameters, `${at}.match.queryParameters`, issues),
      grpcService: grpc ? m.serviceName : undefined,
      grpcMethod: undefined,
      grpcOnly: grpc,
    };
    let hostKind = HOST_ANY;
    let host = '';
    if (m.hostname !== undefined) {
      if ('exact' in m.hostname) {
        hostKind = HOST_EXACT;
        host = m.hostname.exact.toLowerCase();
      } else {
        hostKind = HOST_SUFFIX;
        host = m.hostname.suffix.toLowerCase();
      }
    }
    out.push({
      route,
      hostKind,
      host,
      when,
      target,
      rewritePath: route.rewrite.path,
      rewritePrefix: route.rewrite.prefix,
      targetAuthority: route.rewrite.hostnameToTarget ? route.target.virtualService : undefined,
    });
  });
  return out;
}

/** The first gateway route that matches, with the path and authority to forward. */
export function matchGateway(
  routes: readonly CompiledGatewayRoute[],
  req: RouteRequest,
): { route: GatewayRoute; path: string; authority: string; target: OutboundTarget } | undefined {
  if (routes.length === 0) return undefined;
  const raw = req.path;
  const q = raw.indexOf('?');
  const pathOnly = q < 0 ? raw : raw.slice(0, q);
  const port = req.port ?? 0;
  const host = hostWithoutPort(req.host);
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i];
    if (r.hostKind === HOST_EXACT ? !equalsAsciiFold(host, r.host) : r.hostKind === HOST_SUFFIX && !endsWithAsciiFold(host, r.host)) continue;
    if (!conditionsHold(r.when, req, pathOnly, raw, q, port)) continue;
    let path = raw;
    if (r.rewritePath !== undefined) path = q < 0 ? r.rewritePath : r.rewritePath + raw.slice(q);
    else if (r.rewritePrefix !== undefined) {
      const rewritten = replacePrefix(pathOnly, matchedPrefixLength(r.when.path, pathOnly), r.rewritePrefix);
      path = q < 0 ? rewritten : rewritten + raw.slice(q);
    }
    return { route: r.route, path, authority: r.targetAuthority ?? originalAuthority(req), target: r.target };
  }
  return undefined;
}

/** `host` as documented is already without port; tolerate `name:port` (but not a bare IPv6 address). */
function hostWithoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return host;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(1, close) : host;
  }
  return host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

function equalsAsciiFold(s: string, lower: string): boolean {
  return s.length === lower.length && foldedAt(s, 0, lower);
}

function endsWithAsciiFold(s: string, lower: string): boolean {
  return s.length >= lower.length && foldedAt(s, s.length - lower.length, lower);
}

function foldedAt(s: string, offset: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(offset + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
