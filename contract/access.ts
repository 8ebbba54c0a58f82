/**
 * @module Access as it crosses a boundary: the roles a credential carries, who `/api/me` says you
 * are, and the control messages an admin sends one screen (outside the event stream, no id).
 */
import { z } from 'zod'

import { ROLES, SESSION_KINDS, TOKEN_KINDS, TRANSPORTS } from './vocabularies.ts'

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

/** One live connection of a screen, as the admin's screens list shows it. */
export const screenConnection = z.object({
  transport: z.enum(TRANSPORTS),
  /** The dashboard version the screen runs. */
  version: z.string(),
  connectedAt: z.number(),
  address: z.string(),
  userAgent: z.string().nullable(),
})
export type ScreenConnection = z.infer<typeof screenConnection>

/** GET /api/admin/screens: `{ screens: ScreenRow[] }`. */
export const screenRow = z.object({
  id: z.string(),
  name: z.string(),
  view: z.string(),
  pairedAt: z.number(),
  lastSeenAt: z.number(),
  live: z.boolean(),
  connections: z.array(screenConnection),
  version: z.string().nullable(),
  address: z.string().nullable(),
  userAgent: z.string().nullable(),
})
export type ScreenRow = z.infer<typeof screenRow>

/** GET /api/screen: what this paired screen is (null for any other session). */
export const screenInfo = z.object({ id: z.string(), name: z.string(), view: z.string() })
export type ScreenInfo = z.infer<typeof screenInfo>

/** GET /api/admin/tokens: `{ tokens: TokenInfo[] }` (never the secret). */
export const tokenInfo = z.object({
  id: z.string(),
  /** Only `api` tokens are listed; one-time links are not. */
  kind: z.enum(TOKEN_KINDS),
  name: z.string(),
  role: z.enum(ROLES),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
})
export type TokenInfo = z.infer<typeof tokenInfo>

/** POST /api/pair: a pairing code for a screen to show, and the device secret it waits with. */
export const pairingStarted = z.object({
  code: z.string(),
  device: z.string(),
  expiresAt: z.number(),
  approveUrl: z.string(),
})
export type PairingStarted = z.infer<typeof pairingStarted>

/** GET /api/pair/:code: what an admin sees of a pending code before approving it. */
export const pairingRequest = z.object({
  code: z.string(),
  expiresAt: z.number(),
  address: z.string(),
  userAgent: z.string().nullable(),
})
export type PairingRequest = z.infer<typeof pairingRequest>
