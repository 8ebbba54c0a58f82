/**
 * @module Display options, all from the URL so a TV is configured by its bookmark:
 * `?tv`, `?theme=light`, `?motion=off`, `?rotate=builds,sites&every=30s`, `?dwell=15s`,
 * `?quiet=22:00-07:00`, `?sound=on`.
 */
import { createMemo, createSignal, onCleanup } from 'solid-js'
import { search, useLocation } from './router.tsx'
import { flag, parseDuration, parseQuiet, parseRotate } from './options.ts'

export { inQuietHours, type QuietHours, type ViewName } from './options.ts'

const reducedMotionQuery = typeof matchMedia === 'function' ? matchMedia('(prefers-reduced-motion: reduce)') : null

/** The display options for the current URL (reactive). Call inside a component or root. */
export function createPrefs() {
  const loc = useLocation()
  const [systemReduced, setSystemReduced] = createSignal(reducedMotionQuery?.matches ?? false)
  const onChange = (e: MediaQueryListEvent) => setSystemReduced(e.matches)
  reducedMotionQuery?.addEventListener('change', onChange)
  onCleanup(() => reducedMotionQuery?.removeEventListener('change', onChange))

  const tv = createMemo(() => loc().pathname === '/tv' || loc().pathname.startsWith('/tv/') || flag(search(), 'tv'))
  return {
    tv,
    theme: createMemo(() => (search().get('theme') === 'light' ? 'light' : 'dark')),
    motion: createMemo(() => !(search().get('motion') === 'off' || systemReduced())),
    quiet: createMemo(() => parseQuiet(search().get('quiet'))),
    rotate: createMemo(() => parseRotate(search().get('rotate'))),
    every: createMemo(() => Math.max(3_000, parseDuration(search().get('every')) ?? 30_000)),
    dwell: createMemo(() => Math.max(2_000, parseDuration(search().get('dwell')) ?? 10_000)),
    soundParam: createMemo(() => search().get('sound')),
  }
}
export type Prefs = ReturnType<typeof createPrefs>
