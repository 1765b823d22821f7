/** Node config parsing: cross-field checks the schema alone cannot make, each with its field path. */
import { sealNodeConfig } from '../../../proxy/contracts';
import { httpRoute, nodeBody, staticCluster } from '../harness';

test('a mirror to a cluster the config does not have is refused with the field path', () => {
  const body = nodeBody({
    services: [
      {
        name: 'orders.demo.local',
        listeners: [{ port: 8080, protocol: 'http', routes: [httpRoute('orders/r', { 'orders:8080': 1 }, undefined, { mirror: { cluster: 'shadow:8080', percentage: 10 } })] }],
      },
    ],
    clusters: [staticCluster('orders:8080', [1])],
  });
  expect(() => sealNodeConfig(body)).toThrow("outbound.services[0].listeners[0].routes[0].mirror.cluster: unknown cluster 'shadow:8080'");
});
