/**
 * aws-sdk-client-mock with loose types. The mock library resolves the hoisted @smithy/types 2.x
 * (pulled in by @aws-sdk/client-acm-pca 3.523) while the newer clients carry @smithy/types 4.x,
 * so its generic signatures reject their clients and commands at compile time although the runtime
 * objects are the same. This wrapper keeps the tests type-checked everywhere else.
 */
import { mockClient } from 'aws-sdk-client-mock';

/* eslint-disable @typescript-eslint/no-explicit-any -- command inputs differ per service; tests compare them with toEqual */
type AnyCommand = abstract new (...args: any[]) => unknown;

export interface Behavior {
  resolves(output: object): SdkStub;
  rejects(error: unknown): SdkStub;
  callsFake(fn: (input: any) => unknown): SdkStub;
  resolvesOnce(output: object): Behavior;
  rejectsOnce(error: unknown): Behavior;
}

export interface SdkStub {
  on(command: AnyCommand, input?: object): Behavior;
  reset(): void;
  commandCalls(command: AnyCommand): { args: [{ input: any }] }[];
}

/** Mocks `send` of this one client instance. */
export function mockSdk(client: object): SdkStub {
  return mockClient(client as any) as unknown as SdkStub;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
