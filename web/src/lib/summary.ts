/** @module The tab title and favicon summarise the board, so a background tab still tells the truth. */
import { createEffect } from 'solid-js'
import { summaryText, type BoardCounts } from './status.ts'

const COLOURS = { failing: '#e5534b', running: '#388bfd', passing: '#2da44e', none: '#6e7681', stale: '#d29922' }

export function faviconSvg(c: BoardCounts | null, stale: boolean): string {
  const colour = stale
    ? COLOURS.stale
    : !c || c.total === 0
      ? COLOURS.none
      : c.failing
        ? COLOURS.failing
        : c.running
          ? COLOURS.running
          : COLOURS.passing
  const label = stale ? '!' : c?.failing ? String(Math.min(c.failing, 99)) : ''
  const text = label
    ? `<text x="16" y="22" font-size="${label.length > 1 ? 15 : 19}" font-family="sans-serif" font-weight="700" text-anchor="middle" fill="#fff">${label}</text>`
    : ''
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="${colour}"/>${text}</svg>`
}

export function createTabSummary(opts: { counts: () => BoardCounts | null; stale: () => boolean; view: () => string }) {
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]')
  if (!link) {
    link = document.createElement('link')
    link.rel = 'icon'
    document.head.append(link)
  }
  const icon = link
  createEffect(() => {
    const c = opts.counts()
    const stale = opts.stale()
    const parts = [stale ? '⚠ stale' : null, c ? summaryText(c) : null, opts.view(), 'Radiator'].filter(Boolean)
    document.title = parts.join(' · ')
    icon.href = `data:image/svg+xml,${encodeURIComponent(faviconSvg(c, stale))}`
  })
}
