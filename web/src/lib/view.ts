/** @module What the app shell shares with every view: the ticking clock, display options, paging. */
import { createContext, useContext } from 'solid-js'
import type { Prefs } from './prefs.ts'
import type { Alerts } from './alerts.ts'

export interface PageInfo {
  page: number
  pages: number
  cycled: boolean
}

export interface ViewCtx {
  now: () => number
  /** The time the data on screen is as of: `now`, except frozen at the moment it went stale. */
  frozenNow: () => number
  prefs: Prefs
  alerts: Alerts
  /** Where a paging view is (for the TV header and the rotation); null when it does not page. */
  paging: () => PageInfo | null
  setPaging(p: PageInfo | null): void
  /** What every tile on the wall shares ("acme/"), said once in the TV header; null when nothing. */
  caption: () => string | null
  setCaption(c: string | null): void
}

export const ViewContext = createContext<ViewCtx>()

export function useView(): ViewCtx {
  const v = useContext(ViewContext)
  if (!v) throw new Error('useView() outside <ViewContext.Provider>')
  return v
}
