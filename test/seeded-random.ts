/** The sidecar's seeded generator, for tests whose random inputs must reproduce when one fails. */
export { seededRandom } from '../proxy/seeded-random';
