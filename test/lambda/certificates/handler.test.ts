import { defaultDeps } from '../../../lambda/certificates/handler';

describe('certificate sync environment', () => {
  test.each<[string, NodeJS.ProcessEnv]>([
    ['no mesh', { WEFT_CONFIG_BUCKET: 'b', WEFT_CA_ARN: 'arn' }],
    ['no bucket', { WEFT_MESH: 'm', WEFT_CA_ARN: 'arn' }],
    ['no CA', { WEFT_MESH: 'm', WEFT_CONFIG_BUCKET: 'b' }],
    ['bad validity', { WEFT_MESH: 'm', WEFT_CONFIG_BUCKET: 'b', WEFT_CA_ARN: 'arn', WEFT_CERT_VALIDITY_DAYS: 'seven' }],
  ])('%s is WEFT_ERR_ENV_INVALID', (_name, env) => {
    expect(() => defaultDeps(env)()).toThrow(expect.objectContaining({ code: 'WEFT_ERR_ENV_INVALID' }));
  });

  test('defaults: 7-day certificates, trust domain from the mesh name', () => {
    const deps = defaultDeps({ WEFT_MESH: 'Shop Mesh', WEFT_CONFIG_BUCKET: 'b', WEFT_CA_ARN: 'arn:aws:acm-pca:eu-west-1:1:certificate-authority/x' })();
    expect(deps.validityDays).toBe(7);
    expect(deps.trustDomain).toBe('shop-mesh');
  });
});
