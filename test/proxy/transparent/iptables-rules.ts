/**
 * The nat rules the ECS agent installs for an `APPMESH` ProxyConfiguration (the aws-appmesh CNI
 * plugin's shape), as argument lists for `iptables`. Tests apply them inside a network namespace
 * they created; docs quote them.
 */
export interface ProxyConfiguration {
  ignoredUid: number;
  appPorts: number[];
  proxyIngressPort: number;
  proxyEgressPort: number;
  egressIgnoredIps: string[];
  egressIgnoredPorts: number[];
}

export function appMeshRules(c: ProxyConfiguration): string[][] {
  const rules: string[][] = [
    ['-t', 'nat', '-N', 'APPMESH_INGRESS'],
    ['-t', 'nat', '-N', 'APPMESH_EGRESS'],
    // Ingress: peers' connections to the app ports go to the sidecar's inbound port.
    ['-t', 'nat', '-A', 'APPMESH_INGRESS', '-p', 'tcp', '-m', 'multiport', '--dports', c.appPorts.join(','), '-j', 'REDIRECT', '--to-port', String(c.proxyIngressPort)],
    ['-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '-m', 'addrtype', '!', '--src-type', 'LOCAL', '-j', 'APPMESH_INGRESS'],
    // Egress: the sidecar's own traffic (IgnoredUID) and the ignored destinations leave as they are.
    ['-t', 'nat', '-A', 'APPMESH_EGRESS', '-m', 'owner', '--uid-owner', String(c.ignoredUid), '-j', 'RETURN'],
  ];
  if (c.egressIgnoredPorts.length > 0) {
    rules.push(['-t', 'nat', '-A', 'APPMESH_EGRESS', '-p', 'tcp', '-m', 'multiport', '--dports', c.egressIgnoredPorts.join(','), '-j', 'RETURN']);
  }
  if (c.egressIgnoredIps.length > 0) {
    rules.push(['-t', 'nat', '-A', 'APPMESH_EGRESS', '-p', 'tcp', '-d', c.egressIgnoredIps.join(','), '-j', 'RETURN']);
  }
  rules.push(
    ['-t', 'nat', '-A', 'APPMESH_EGRESS', '-p', 'tcp', '-j', 'REDIRECT', '--to-port', String(c.proxyEgressPort)],
    // Loopback traffic (the sidecar calling the app, the app calling the sidecar) is not redirected.
    ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', 'APPMESH_EGRESS'],
  );
  return rules;
}
