/**
 * @module A tiny history router (path patterns with `:params`, search params as state, `<A>` links).
 * Every view is a URL so a TV can bookmark it; this is all the routing the dashboard needs, at a
 * fraction of a general router's bytes.
 */
import { Show, createMemo, createSignal, onCleanup, type Component, type JSX } from 'solid-js'
import { Dynamic } from 'solid-js/web'

interface Loc {
  pathname: string
  search: string
}
const read = (): Loc => ({ pathname: location.pathname, search: location.search })
const [loc, setLoc] = createSignal<Loc>(read(), {
  equals: (a, b) => a.pathname === b.pathname && a.search === b.search,
})

export const useLocation = () => loc

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const u = new URL(to, location.href)
  const target = u.pathname + u.search + u.hash
  if (target === location.pathname + location.search + location.hash) return
  if (opts.replace) history.replaceState(null, '', target)
  else history.pushState(null, '', target)
  setLoc(read())
}

let parsedFor: string | null = null
let parsed = new URLSearchParams()
/** The current search params; reactive (reads the location signal), parsed once per change. */
export function search(): URLSearchParams {
  const s = loc().search
  if (s !== parsedFor) {
    parsedFor = s
    parsed = new URLSearchParams(s)
  }
  return parsed
}

/** Merges `patch` into the search params (null deletes); replaces the history entry by default. */
export function setSearch(patch: Record<string, string | null | undefined>, opts: { push?: boolean } = {}) {
  const p = new URLSearchParams(location.search)
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined || v === '') p.delete(k)
    else p.set(k, v)
  }
  const s = p.toString()
  navigate(location.pathname + (s ? `?${s.replace(/=(&|$)/g, '$1')}` : ''), { replace: !opts.push })
}

export interface RouteDef {
  path: string
  component: Component<{ params: Record<string, string> }>
}

function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean)
  const b = path.split('/').filter(Boolean)
  if (a.length !== b.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < a.length; i++) {
    const seg = a[i]!
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(b[i]!)
      } catch {
        return null
      }
    } else if (seg !== b[i]) return null
  }
  return params
}

/** Renders the first route whose pattern matches the path; `fallback` when none does. */
export function Router(props: { routes: RouteDef[]; fallback: Component }) {
  const onPop = () => setLoc(read())
  addEventListener('popstate', onPop)
  onCleanup(() => removeEventListener('popstate', onPop))
  const current = createMemo(
    () => {
      const path = loc().pathname
      for (const r of props.routes) {
        const params = match(r.path, path)
        if (params) return { r, params, key: `${r.path}|${JSON.stringify(params)}` }
      }
      return null
    },
    undefined,
    { equals: (a, b) => a?.key === b?.key }
  )
  return (
    <Show when={current()} keyed fallback={<Dynamic component={props.fallback} />}>
      {(c) => <Dynamic component={c.r.component} params={c.params} />}
    </Show>
  )
}

/** An in-app link: a real `<a href>` (middle-click, copy link) that navigates without a reload. */
export function A(props: JSX.AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(props.href)
    scrollTo(0, 0)
  }
  // A real link (props carry href, so keyboard and middle-click work); the click only avoids a page load.
  // biome-ignore lint/a11y/useValidAnchor: see above
  // biome-ignore lint/a11y/useKeyWithClickEvents: see above
  // biome-ignore lint/a11y/noStaticElementInteractions: see above
  return <a {...props} onClick={onClick} />
}
