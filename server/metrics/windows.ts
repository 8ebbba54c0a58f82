/**
 * @module What a window (the contract's WINDOWS: 5m, 1h, 24h, 7d, 28d) means, stated once: a number
 * of whole rollup periods. It is read in two ways, and every caller names the one it means:
 * - `periodsOf`: whole periods ending with the current one, as Plausible does (summaries, the live
 *   `vitals` event, LIVE_WINDOW): 24h is the current hour and the 23 before it, from the hour.
 * - `slidingFrom`: the same length back from now (a custom metric's series): 24h is the last 24 h.
 */
import type { SummaryWindow } from '../../contract/metrics.ts'
import { GRAN_MS, type Gran, periodOf } from './rollups.ts'

const WINDOW_PERIODS: Record<SummaryWindow, readonly [Gran, number]> = {
  '5m': ['m', 5],
  '1h': ['m', 60],
  '24h': ['h', 24],
  '7d': ['d', 7],
  '28d': ['d', 28],
}

/** The window as `count` whole periods of `gran` ending with the one `now` is in; `from` is the first's start. */
export function periodsOf(window: SummaryWindow, now: number): { gran: Gran; count: number; from: number } {
  const [gran, count] = WINDOW_PERIODS[window]
  return { gran, count, from: periodOf(gran, now) - (count - 1) * GRAN_MS[gran] }
}

/** The start of the window as a sliding span ending at `now`. */
export function slidingFrom(window: SummaryWindow, now: number): number {
  const [gran, count] = WINDOW_PERIODS[window]
  return now - count * GRAN_MS[gran]
}
