/** AWS-shaped errors for adapter tests (the name and HTTP status are what the SDK sets). */
export function awsError(name: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(`${name} (test)`), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });
}

/** Retry options that never wait and record the delays asked for. */
export function instantRetry(): { sleep: (ms: number) => Promise<void>; delays: number[]; random: () => number } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms), random: () => 1 };
}
