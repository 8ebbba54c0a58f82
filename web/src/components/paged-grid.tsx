import { For, createEffect, createMemo, createSignal, onCleanup, type JSX } from 'solid-js'
import { createPager, gridFor } from '../lib/pager.ts'
import { useView } from '../lib/view.ts'

/**
 * A grid of items: on a TV it fills the screen and pages on a dwell timer (never scrolls); on a
 * laptop it flows and scrolls like any page.
 */
export function PagedGrid<T>(props: {
  items: T[]
  children: (item: T) => JSX.Element
  class: string
  /** Fewer, larger cells for big cards (sites) than for build tiles. */
  maxCells?: number
  label: string
}) {
  const view = useView()
  const tv = () => view.prefs.tv()
  const isPortrait = () => innerHeight > innerWidth * 1.1
  const [portrait, setPortrait] = createSignal(isPortrait())
  const onResize = () => setPortrait(isPortrait())
  addEventListener('resize', onResize)
  onCleanup(() => removeEventListener('resize', onResize))
  const grid = createMemo(() => gridFor(props.items.length, portrait(), props.maxCells ?? 20))
  const perPage = () => grid().cols * grid().rows
  const pager = createPager({
    count: () => props.items.length,
    perPage,
    dwell: view.prefs.dwell,
    enabled: tv,
  })
  const shown = createMemo(() => (tv() ? props.items.slice(pager.start(), pager.start() + perPage()) : props.items))

  createEffect(() => {
    if (tv()) view.setPaging({ page: pager.page(), pages: pager.pages(), cycled: pager.cycled() })
  })
  onCleanup(() => view.setPaging(null))

  const onKey = (e: KeyboardEvent) => {
    if (!tv() || e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return
    if (e.key === 'ArrowRight' || e.key === 'PageDown') pager.next()
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') pager.prev()
  }
  addEventListener('keydown', onKey)
  onCleanup(() => removeEventListener('keydown', onKey))

  return (
    <div
      class={props.class}
      classList={{ 'tv-grid': tv() }}
      style={tv() ? { '--cols': grid().cols, '--rows': grid().rows } : undefined}
      role="list"
      aria-label={
        tv() && pager.pages() > 1 ? `${props.label}, page ${pager.page() + 1} of ${pager.pages()}` : props.label
      }
    >
      <For each={shown()}>
        {(item) => (
          <div role="listitem" class="cell">
            {props.children(item)}
          </div>
        )}
      </For>
    </div>
  )
}
