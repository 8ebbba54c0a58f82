/**
 * @module Text on a wall tile is never cut: a name wraps to its line budget and, when that is not
 * enough, shrinks step by step to a floor; a tile whose lines still overflow drops its least useful
 * lines (marked `data-drop`, in order) rather than clip the ones that identify it.
 */

const FLOOR = 0.55
const STEP = 0.92

const over = (el: HTMLElement) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1

/** Shrinks one `[data-fit]` element until its text fits its box (or the floor is reached). */
export function fitText(el: HTMLElement): void {
  el.style.fontSize = ''
  if (!over(el)) return
  const base = parseFloat(getComputedStyle(el).fontSize)
  let scale = 1
  while (over(el) && scale * STEP >= FLOOR) {
    scale *= STEP
    el.style.fontSize = `${base * scale}px`
  }
}

/** Fits every `[data-fit]` text in `root`, then lets overflowing tiles drop their optional lines. */
export function fitAll(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-fit]')) {
    if (el.style.fontSize) el.style.fontSize = ''
  }
  for (const tile of root.querySelectorAll<HTMLElement>('.tile')) {
    const drops = [...tile.querySelectorAll<HTMLElement>('[data-drop]')].sort(
      (a, b) => Number(a.dataset.drop) - Number(b.dataset.drop)
    )
    for (const d of drops) d.hidden = false
    for (const el of tile.querySelectorAll<HTMLElement>('[data-fit]')) fitText(el)
    for (const d of drops) {
      if (tile.scrollHeight <= tile.clientHeight + 1) break
      d.hidden = true
    }
  }
}

/** Refits `root` whenever its content or size changes, once per frame at most. */
export function watchFit(root: HTMLElement): () => void {
  let frame = 0
  const schedule = () => {
    if (frame) return
    frame = requestAnimationFrame(() => {
      frame = 0
      mo.takeRecords()
      fitAll(root)
      mo.takeRecords()
    })
  }
  const mo = new MutationObserver(schedule)
  mo.observe(root, { subtree: true, childList: true, characterData: true })
  const ro = new ResizeObserver(schedule)
  ro.observe(root)
  schedule()
  return () => {
    cancelAnimationFrame(frame)
    mo.disconnect()
    ro.disconnect()
  }
}
