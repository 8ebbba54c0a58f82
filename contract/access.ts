/**
 * @module Access as it crosses a boundary: the roles a credential carries, who `/api/me` says you
 * are, and the control messages an admin sends one screen (outside the event stream, no id).
 */
import { z } from 'zod'

import { ROLES, SESSION_KINDS } from './vocabularies.ts'

export { ROLES, type Role, SESSION_KINDS, SESSION_ROLES, type SessionKind, type SessionRole } from './vocabularies.ts'

/** GET /api/me: signed in or not; the rest only when signed in (`sso` only when not). */
export const meSchema = z.object({
  signedIn: z.boolean(),
  publicDashboard: z.boolean(),
  sso: z.boolean().optional(),
  role: z.enum(ROLES).optional(),
  subject: z.string().optional(),
  via: z.string().optional(),
  kind: z.enum(SESSION_KINDS).nullable().optional(),
})
export type Me = z.infer<typeof meSchema>

/** An admin steering one screen: identify it, reload it, or show a view. */
export const controlMessage = z.discriminatedUnion('action', [
  z.object({ action: z.literal('identify'), name: z.string(), forMs: z.number() }),
  z.object({ action: z.literal('reload') }),
  z.object({ action: z.literal('show'), view: z.string() }),
])
export type ControlMessage = z.infer<typeof controlMessage>
