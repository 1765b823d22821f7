import { boundedTimeout, encodeGrpcMessage, grpcStatusFor, grpcTimeoutMs, isGrpcRequest } from '../../../proxy/message/grpc';

test('grpc-timeout values in every unit, and malformed ones ignored', () => {
  expect(grpcTimeoutMs('2H')).toBe(7_200_000);
  expect(grpcTimeoutMs('3M')).toBe(180_000);
  expect(grpcTimeoutMs('5S')).toBe(5_000);
  expect(grpcTimeoutMs('250m')).toBe(250);
  expect(grpcTimeoutMs('1500u')).toBe(2);
  expect(grpcTimeoutMs('10n')).toBe(1);
  for (const bad of ['', '5', 'S', '123456789S', '5s', '-5S', '5 S']) expect(grpcTimeoutMs(bad)).toBeUndefined();
  expect(grpcTimeoutMs(undefined)).toBeUndefined();
});

test('the route timeout is bounded by the client deadline, and a deadline applies where the route has none', () => {
  expect(boundedTimeout(15_000, { 'grpc-timeout': '100m' })).toBe(100);
  expect(boundedTimeout(50, { 'grpc-timeout': '1S' })).toBe(50);
  expect(boundedTimeout(0, { 'grpc-timeout': '1S' })).toBe(1_000);
  expect(boundedTimeout(700, {})).toBe(700);
});

test('gRPC requests are recognised by content type', () => {
  expect(isGrpcRequest({ 'content-type': 'application/grpc' })).toBe(true);
  expect(isGrpcRequest({ 'content-type': 'application/grpc+proto' })).toBe(true);
  expect(isGrpcRequest({ 'content-type': 'application/grpc-web' })).toBe(false);
  expect(isGrpcRequest({ 'content-type': 'application/json' })).toBe(false);
  expect(isGrpcRequest({})).toBe(false);
});

test('sidecar errors map to gRPC statuses; messages are percent-encoded', () => {
  expect(grpcStatusFor('WEFT_ERR_NO_ROUTE')).toBe(12);
  expect(grpcStatusFor('WEFT_ERR_NO_HEALTHY_UPSTREAM')).toBe(14);
  expect(grpcStatusFor('WEFT_ERR_OVERLOADED')).toBe(14);
  expect(grpcStatusFor('WEFT_ERR_UPSTREAM_TIMEOUT')).toBe(4);
  expect(grpcStatusFor('WEFT_ERR_BAD_REQUEST')).toBe(13);
  expect(encodeGrpcMessage('50% ✓')).toBe('50%25 %E2%9C%93');
});
