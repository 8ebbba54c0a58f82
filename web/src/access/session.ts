/**
 * @module Who this page is signed in as, and the two signals the live connection raises about
 * access: `radiator:access` (the server closed us out: revoked, or signed out) and
 * `radiator:control` (an admin steering this screen: identify, reload, show). Window events keep
 * the connection module free of any knowledge of sign-in screens.
 */
import type { ControlMessage, Me } from '../../../contract/access.ts'

export type { ControlMessage, Me } from '../../../contract/access.ts'

export interface ScreenInfo {
  id: string
  name: string
  view: string
}

import { createContext, useContext, type Accessor } from 'solid-js'

/** Who this page is signed in as (null while unknown): the header shows admins their pages. */
export const MeContext = createContext<Accessor<Me | null>>(() => null)
export const useMe = () => useContext(MeContext)

export const ACCESS_EVENT = 'radiator:access'
export const CONTROL_EVENT = 'radiator:control'

export async function fetchMe(): Promise<Me> {
  const res = await fetch('/api/me', { cache: 'no-store', headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(`/api/me: ${res.status}`)
  return (await res.json()) as Me
}

export async function fetchScreen(): Promise<ScreenInfo | null> {
  const res = await fetch('/api/screen', { cache: 'no-store', headers: { accept: 'application/json' } })
  if (!res.ok) return null
  return ((await res.json()) as { screen: ScreenInfo | null }).screen
}

/** POSTs JSON same-origin (the session cookie rides along; Origin is ours, so CSRF passes). */
export async function postJson<T>(path: string, body: unknown, method = 'POST'): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const data = (await res.json().catch(() => ({}))) as T & { message?: string }
  if (!res.ok) throw new Error(data.message ?? `${res.status} ${res.statusText}`)
  return data
}

export function announceAccess(reason: 'revoked' | 'signed-out'): void {
  dispatchEvent(new CustomEvent(ACCESS_EVENT, { detail: reason }))
}

export function announceControl(msg: ControlMessage): void {
  dispatchEvent(new CustomEvent(CONTROL_EVENT, { detail: msg }))
}
