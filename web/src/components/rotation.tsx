import { createSignal, onCleanup, type Component, type JSX } from 'solid-js'
import { Dynamic } from 'solid-js/web'
import type { ViewName } from '../lib/prefs.ts'
import { useView } from '../lib/view.ts'

/**
 * `?rotate=builds,sites&every=30s`: cycles views, each at least `every`, and never leaves a paging
 * board before it has shown every page.
 */
export function Rotation(props: {
  views: ViewName[]
  every: number
  render: Record<'builds' | 'sites' | 'metrics', Component> & { site: Component<{ params: Record<string, string> }> }
}) {
  const view = useView()
  const [index, setIndex] = createSignal(0)
  let shownAt = Date.now()
  const timer = setInterval(() => {
    const paging = view.paging()
    if (Date.now() - shownAt >= props.every && (paging ? paging.cycled : true)) {
      shownAt = Date.now()
      setIndex((i) => (i + 1) % props.views.length)
    }
  }, 1000)
  onCleanup(() => clearInterval(timer))
  const current = () => props.views[index() % props.views.length]!
  const content = (): JSX.Element => {
    const v = current()
    return v.startsWith('site:') ? (
      <Dynamic component={props.render.site} params={{ site: v.slice(5) }} />
    ) : (
      <Dynamic component={props.render[v as 'builds' | 'sites' | 'metrics']} />
    )
  }
  return (
    <div class="rotation" data-view={current()}>
      {content()}
    </div>
  )
}
