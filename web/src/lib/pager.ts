/**
 * @module Boards on a wall never scroll: they lay their tiles out in a grid sized to the screen and,
 * when there are more than fit, turn pages on a dwell timer.
 */
import { createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js'

export interface Grid {
  cols: number
  rows: number
}

/** Densest layouts still readable from three metres on a 16:9 screen, in order. */
const GRIDS: Grid[] = [
  { cols: 1, rows: 1 },
  { cols: 2, rows: 1 },
  { cols: 3, rows: 1 },
  { cols: 2, rows: 2 },
  { cols: 3, rows: 2 },
  { cols: 4, rows: 2 },
  { cols: 3, rows: 3 },
  { cols: 4, rows: 3 },
  { cols: 4, rows: 4 },
  { cols: 5, rows: 4 },
]

/**
 * The smallest grid that holds `n` tiles, or the densest one (then the board pages). `maxCells`
 * lowers the density for big tiles; a portrait screen swaps columns and rows.
 */
export function gridFor(n: number, portrait = false, maxCells = 20): Grid {
  const fits = GRIDS.filter((g) => g.cols * g.rows <= maxCells)
  const g = fits.find((x) => x.cols * x.rows >= n) ?? fits[fits.length - 1]!
  return portrait ? { cols: g.rows, rows: g.cols } : g
}

/** Pages through `count` items `perPage` at a time, one page per `dwell` ms while `enabled`. */
export function createPager(opts: {
  count: () => number
  perPage: () => number
  dwell: () => number
  enabled: () => boolean
}) {
  const pages = createMemo(() =>
    opts.enabled() ? Math.max(1, Math.ceil(opts.count() / Math.max(1, opts.perPage()))) : 1
  )
  const [page, setPage] = createSignal(0)
  /** True once every page has been on screen (a rotation waits for it). */
  const [cycled, setCycled] = createSignal(false)
  const seen = new Set<number>([0])

  const mark = (p: number) => {
    seen.add(p)
    if (seen.size >= pages()) setCycled(true)
  }
  const go = (delta: number) => {
    const n = pages()
    const p = (((page() + delta) % n) + n) % n
    setPage(p)
    mark(p)
  }

  // Restart the dwell whenever the page count changes, so a new page never flashes by.
  createEffect(
    on([pages, opts.dwell], ([n, dwell]) => {
      if (page() >= n) setPage(0)
      seen.clear()
      seen.add(page())
      setCycled(n <= 1)
      if (n <= 1) return
      const timer = setInterval(() => go(1), dwell)
      onCleanup(() => clearInterval(timer))
    })
  )

  const start = () => page() * opts.perPage()
  return { page, pages, cycled, start, next: () => go(1), prev: () => go(-1) }
}
