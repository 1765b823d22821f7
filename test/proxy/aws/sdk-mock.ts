/**
 * aws-sdk-client-mock with loose compile-time types. The mock library resolves the hoisted
 * @smithy/types 2.x while the S3 and Cloud Map clients carry @smithy/types 4.x, so its generic
 * signatures reject these clients and commands although the runtime objects are what it expects.
 */
import { mockClient } from 'aws-sdk-client-mock';

/* eslint-disable @typescript-eslint/no-explicit-any -- inputs differ per command; tests compare them with toEqual */
type AnyCommand = abstract new (...args: any[]) => unknown;

export interface Behavior {
  resolves(output: object): Behavior;
  rejects(error: unknown): Behavior;
  callsFake(fn: (input: any) => unknown): Behavior;
  resolvesOnce(output: object): Behavior;
  rejectsOnce(error: unknown): Behavior;
}

export interface SdkMock {
  on(command: AnyCommand, input?: object): Behavior;
  reset(): void;
  calls(): unknown[];
  commandCalls(command: AnyCommand): { args: [{ input: any }] }[];
}

/** Mocks `send` of this one client instance. */
export function mockSdk(client: object): SdkMock {
  return mockClient(client as any) as unknown as SdkMock;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
