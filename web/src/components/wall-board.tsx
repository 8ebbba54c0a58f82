import { For, Show, createEffect, createMemo, createSignal, onCleanup, onMount, type JSX } from 'solid-js'
import type { PipelineTile } from '../types.ts'
import { watchFit } from '../lib/fit.ts'
import { createPager } from '../lib/pager.ts'
import { colour, needsAttention } from '../lib/status.ts'
import { useView } from '../lib/view.ts'
import { COMPACT, planWall, type Block } from '../lib/wall.ts'
import { BuildTile, CompactTile } from './build-tile.tsx'

/** The prefix ("acme/") every tile's project shares, when there are several tiles; else ''. */
export function commonPrefix(names: string[]): string {
  if (names.length < 2) return ''
  let p = names[0]!
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1)
  const cut = p.lastIndexOf('/')
  return cut > 0 ? p.slice(0, cut + 1) : ''
}

/**
 * The builds board on a wall: what needs attention in large tiles, always on screen; the rest in
 * small tiles or a compact grid beside it, paged only when even that cannot fit.
 */
export function WallBoard(props: { tiles: PipelineTile[]; now: number }) {
  const view = useView()
  let el!: HTMLDivElement
  const [size, setSize] = createSignal({ w: 0, h: 0 })
  onMount(() => {
    const measure = () => setSize({ w: el.clientWidth, h: el.clientHeight })
    const ro = new ResizeObserver(measure)
    ro.observe(el)
    measure()
    const stop = watchFit(el)
    onCleanup(() => {
      ro.disconnect()
      stop()
    })
  })

  const groups = createMemo(() => {
    const failing: PipelineTile[] = []
    const attention: PipelineTile[] = []
    const rest: PipelineTile[] = []
    for (const t of props.tiles)
      (colour(t, props.now) === 'failing' ? failing : needsAttention(t, props.now) ? attention : rest).push(t)
    return { failing, attention, rest }
  })
  // Only the counts matter to the plan: recomputed when a tile changes group, not every second.
  const counts = createMemo(() => `${groups().failing.length}|${groups().attention.length}|${groups().rest.length}`)
  const plan = createMemo(() => {
    const [f, a, r] = counts().split('|').map(Number) as [number, number, number]
    return planWall(size().w, size().h, f + a, r, f)
  })
  const split = createMemo(() => {
    const g = groups()
    return plan().failingOnlyOnTop
      ? { top: g.failing, rest: [...g.attention, ...g.rest] }
      : { top: [...g.failing, ...g.attention], rest: g.rest }
  })
  const prefix = createMemo(() => commonPrefix(props.tiles.map((t) => t.project)))
  // One pipeline name shared by every tile says nothing on each of them: said once, in the header.
  const pipeline = createMemo(() => {
    const names = new Set(props.tiles.map((t) => t.pipeline))
    const only = names.size === 1 && props.tiles.length > 1 ? [...names][0]! : ''
    return only && props.tiles.every((t) => t.pipeline !== t.project) ? only : ''
  })
  createEffect(() => view.setCaption([prefix(), pipeline()].filter(Boolean).join(' · ') || null))
  onCleanup(() => view.setCaption(null))

  const pager = createPager({
    count: () => split().rest.length,
    perPage: () => Math.max(1, plan().perPage),
    dwell: view.prefs.dwell,
    enabled: () => true,
  })
  createEffect(() => view.setPaging({ page: pager.page(), pages: pager.pages(), cycled: pager.cycled() }))
  onCleanup(() => view.setPaging(null))
  const restShown = createMemo(() => split().rest.slice(pager.start(), pager.start() + Math.max(1, plan().perPage)))

  const topKind = createMemo(() => plan().top?.kind)
  const restKind = createMemo(() => plan().bottom?.kind)
  const tile = (kind: Block['kind'] | undefined, t: PipelineTile): JSX.Element =>
    kind === 'full' ? (
      <BuildTile tile={t} now={props.now} tv prefix={prefix()} hidePipeline={!!pipeline()} />
    ) : (
      <CompactTile tile={t} now={props.now} prefix={prefix()} hidePipeline={!!pipeline()} />
    )

  const blockStyle = (b: Block) => ({
    height: `${b.height}px`,
    'font-size': `${b.font}px`,
    'grid-template-columns': `repeat(${b.cols}, minmax(0, 1fr))`,
    'grid-template-rows': b.kind === 'full' ? `repeat(${b.rows}, minmax(0, 1fr))` : `repeat(${b.rows}, ${COMPACT.h}em)`,
    gap: `${plan().gap}px`,
  })

  return (
    <div
      class="wall"
      ref={el}
      style={{ gap: `${plan().gap}px` }}
      role="list"
      aria-label={pager.pages() > 1 ? `Pipelines, page ${pager.page() + 1} of ${pager.pages()}` : 'Pipelines'}
    >
      <Show when={size().w > 0 && plan().top}>
        <div
          class="wall-block"
          data-kind={plan().top!.kind}
          data-testid="wall-attention"
          style={blockStyle(plan().top!)}
        >
          <For each={split().top}>
            {(t) => (
              <div role="listitem" class="cell">
                {tile(topKind(), t)}
              </div>
            )}
          </For>
        </div>
      </Show>
      <Show when={size().w > 0 && plan().bottom}>
        <div
          class="wall-block"
          data-kind={plan().bottom!.kind}
          data-testid="wall-rest"
          style={blockStyle(plan().bottom!)}
        >
          <For each={restShown()}>
            {(t) => (
              <div role="listitem" class="cell">
                {tile(restKind(), t)}
              </div>
            )}
          </For>
        </div>
      </Show>
    </div>
  )
}
