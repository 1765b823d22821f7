/** Timing for the micro-benchmarks: the median of timed rounds after a warm-up. */

export interface MicroResult {
  name: string;
  nsPerOp: number;
}

/** Counts results, so that the optimizer cannot drop the calls being timed. */
let sink = 0;

/** Median ns/op of 7 timed rounds of `iterations` calls, after a warm-up. */
export function measure(name: string, iterations: number, fn: (i: number) => unknown): MicroResult {
  for (let i = 0; i < iterations; i++) if (fn(i) === undefined) sink++;
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (fn(i) === undefined) sink++;
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  if (sink < 0) console.log(sink);
  return { name, nsPerOp: Math.round(samples[3] * 10) / 10 };
}
