/** @module How a custom metric's value stands against the thresholds its pusher gave. */

export type MetricLevel = 'ok' | 'warn' | 'crit'

/**
 * `warn` above `crit` means lower is worse (free disk, success rate); otherwise higher is worse.
 * null without thresholds: the wall has no opinion.
 */
export function metricLevel(v: number, warn?: number | null, crit?: number | null): MetricLevel | null {
  const w = typeof warn === 'number' && Number.isFinite(warn) ? warn : null
  const c = typeof crit === 'number' && Number.isFinite(crit) ? crit : null
  if (w === null && c === null) return null
  const lowerWorse = w !== null && c !== null && w > c
  const past = (t: number) => (lowerWorse ? v <= t : v >= t)
  if (c !== null && past(c)) return 'crit'
  if (w !== null && past(w)) return 'warn'
  return 'ok'
}
