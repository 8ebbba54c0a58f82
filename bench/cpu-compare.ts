/** @module In-process statement benchmarks (bench/ci-sql.ts, bench/metrics-sql.ts): CPU time per call, variants taking turns. */

/** Rounds per comparison (BENCH_ROUNDS, 15). */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)

/**
 * Median CPU µs per call of each variant: a warm-up, then `calls` calls per round, rounds rotating
 * the order so no variant always runs first (or last) on a noisy machine.
 */
export function compare(variants: Record<string, () => unknown>, calls: number): Record<string, number> {
  const names = Object.keys(variants)
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (const n of names) for (let i = 0; i < calls; i++) variants[n]!() // warm-up
  for (let round = 0; round < ROUNDS; round++)
    for (let k = 0; k < names.length; k++) {
      const n = names[(round + k) % names.length]!
      const t0 = process.cpuUsage()
      for (let i = 0; i < calls; i++) variants[n]!()
      const { user, system } = process.cpuUsage(t0)
      times[n]!.push((user + system) / calls)
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  return Object.fromEntries(names.map((n) => [n, median(times[n]!)]))
}
