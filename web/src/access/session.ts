/**
 * @module Who this page is signed in as, and the two signals the live connection raises about
 * access: `radiator:access` (the server closed us out: revoked, or signed out) and
 * `radiator:control` (an admin steering this screen: identify, reload, show). Window events keep
 * the connection module free of any knowledge of sign-in screens.
 */
import type { ControlMessage, Me, ScreenInfo } from '../../../contract/access.ts'
import { ApiError, fetchAPI } from '../lib/api.ts'

export type { ControlMessage, Me, ScreenInfo } from '../../../contract/access.ts'

import { createContext, useContext, type Accessor } from 'solid-js'

/** Who this page is signed in as (null while unknown): the header shows admins their pages. */
export const MeContext = createContext<Accessor<Me | null>>(() => null)
export const useMe = () => useContext(MeContext)

export const ACCESS_EVENT = 'radiator:access'
export const CONTROL_EVENT = 'radiator:control'

export const fetchMe = (): Promise<Me> => fetchAPI<Me>('/api/me', { cache: 'no-store' })

export async function fetchScreen(): Promise<ScreenInfo | null> {
  try {
    return (await fetchAPI<{ screen: ScreenInfo | null }>('/api/screen', { cache: 'no-store' })).screen
  } catch (e) {
    // The server answered no (not a screen): nothing to go to. Unreachable is the caller's to handle.
    if (e instanceof ApiError && e.status !== 0) return null
    throw e
  }
}

/** POSTs JSON same-origin (the session cookie rides along; Origin is ours, so CSRF passes). */
export const postJson = <T>(path: string, body: unknown, method = 'POST'): Promise<T> =>
  fetchAPI<T>(path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

export function announceAccess(reason: 'revoked' | 'signed-out'): void {
  dispatchEvent(new CustomEvent(ACCESS_EVENT, { detail: reason }))
}

export function announceControl(msg: ControlMessage): void {
  dispatchEvent(new CustomEvent(CONTROL_EVENT, { detail: msg }))
}
