/**
 * @module API tokens, one-time sign-in links and sessions: created, looked up by the hash of their
 * secret, touched while used, revoked. The statements are the engine's (rows.ts: SQLite reads the
 * database, PostgreSQL an in-memory mirror kept in step across instances); the rules are here.
 * Revocations are announced so open live connections of the revoked credential can be cut at once.
 */
import type { Role, SessionRole } from './roles.ts'
import { DAY_MS } from '../time.ts'
import {
  liveSession,
  usableToken,
  type AccessRows,
  type Revocation,
  type SessionListing,
  type SessionRow,
  type TokenListing,
  type TokenRow,
} from './rows.ts'
import { hashSecret, newId, newSecret } from './secrets.ts'

export type { Revocation, SessionRow, TokenRow } from './rows.ts'

/** A browser session ends after this long unused; every use moves the end. */
export const BROWSER_SESSION_IDLE_MS = 30 * DAY_MS
/** A first-start sign-in link is good for this long, once. */
export const SIGNIN_LINK_TTL_MS = DAY_MS
/** A screen share link (`/tv?pair=…`) is good for this long, once. */
export const SCREEN_LINK_TTL_MS = 7 * DAY_MS
/**
 * Last-used and last-seen times are written at most this often per credential (and instance), never
 * per request: on PostgreSQL the other instances' mirrors learn them at their next reload.
 */
const TOUCH_EVERY_MS = 60_000

export class Credentials {
  private touched = new Map<string, number>()

  constructor(
    readonly rows: AccessRows,
    private now: () => number = Date.now
  ) {}

  /** Called for every revoked token or session; in a cluster, for those revoked on any instance. */
  onRevoke(fn: (r: Revocation) => void): () => void {
    return this.rows.onRevoke(fn)
  }

  // --- API tokens -------------------------------------------------------------------------

  async createToken(name: string, role: Role): Promise<{ id: string; secret: string }> {
    const secret = newSecret('rad')
    const id = newId('tok')
    await this.rows.insertToken({
      id,
      kind: 'api',
      name,
      role,
      hash: hashSecret(secret),
      createdAt: this.now(),
      lastUsedAt: null,
      view: null,
      expiresAt: null,
      revokedAt: null,
    })
    return { id, secret }
  }

  listTokens(): TokenListing[] {
    return this.rows.apiTokens()
  }

  /** A usable API token by its secret, or undefined. */
  token(secret: string): TokenRow | undefined {
    const row = this.rows.tokenByHash(hashSecret(secret))
    if (!usableToken(row)) return undefined
    const now = this.now()
    this.touch(row.id, () => this.rows.touchToken(row.id, now))
    return row
  }

  /** Revokes a token and every browser session signed in with it. */
  revokeToken(id: string): Promise<boolean> {
    return this.rows.revokeToken(id, this.now())
  }

  // --- one-time sign-in links -------------------------------------------------------------

  /** A new admin sign-in link's secret; earlier unused links stop working. */
  async createSigninLink(): Promise<string> {
    const secret = newSecret('rsi')
    const now = this.now()
    await this.rows.insertLink({
      id: newId('lnk'),
      kind: 'signin',
      name: 'sign-in link',
      role: 'admin',
      hash: hashSecret(secret),
      createdAt: now,
      lastUsedAt: null,
      view: null,
      expiresAt: now + SIGNIN_LINK_TTL_MS,
      revokedAt: null,
    })
    return secret
  }

  /** A one-time link a script hands to a screen; it becomes that screen's session when opened. */
  async createScreenLink(name: string, view: string): Promise<{ secret: string; expiresAt: number }> {
    const secret = newSecret('rsl')
    const now = this.now()
    const expiresAt = now + SCREEN_LINK_TTL_MS
    await this.rows.insertLink({
      id: newId('lnk'),
      kind: 'screen-link',
      name,
      view,
      role: 'viewer',
      hash: hashSecret(secret),
      createdAt: now,
      lastUsedAt: null,
      expiresAt,
      revokedAt: null,
    })
    return { secret, expiresAt }
  }

  /** Uses a sign-in link up; its role, or null. */
  async consumeSigninLink(secret: string): Promise<Role | null> {
    return (await this.rows.useLink(hashSecret(secret), 'signin', this.now()))?.role ?? null
  }

  /** Uses a screen share link up; the screen's name and view, or null. */
  async consumeScreenLink(secret: string): Promise<{ name: string; view: string } | null> {
    const row = await this.rows.useLink(hashSecret(secret), 'screen-link', this.now())
    return row ? { name: row.name, view: row.view ?? '/tv' } : null
  }

  /** Whether anyone can administer this Radiator: an admin token or a live admin session. */
  hasAdmin(): boolean {
    return this.rows.hasAdmin(this.now())
  }

  // --- sessions ---------------------------------------------------------------------------

  async createSession(s: {
    kind: SessionRow['kind']
    role: SessionRole
    subject: string
    userAgent?: string | null
    address?: string | null
    fromToken?: string | null
  }): Promise<{ id: string; secret: string; row: SessionRow }> {
    const secret = newSecret('ras')
    const row = this.sessionRow(s, hashSecret(secret))
    await this.rows.insertSession(row)
    return { id: row.id, secret, row }
  }

  /**
   * A screen session whose secret only the screen can make (pairing.ts): stored under `hash` until
   * `expiresAt`, and live only once the screen has collected it under a secret of its own
   * (`collectSession`). Rejects when a session already has that hash (the code was approved twice).
   */
  async createPendingScreenSession(s: {
    hash: string
    subject: string
    expiresAt: number
    userAgent?: string | null
    address?: string | null
  }): Promise<SessionRow> {
    const row = { ...this.sessionRow({ ...s, kind: 'screen', role: 'viewer' }, s.hash), expiresAt: s.expiresAt }
    await this.rows.insertSession(row)
    return row
  }

  /**
   * Exchanges the secret a pending screen session was stored under for a new one, once: the new
   * secret and the session's screen, or null when there is no such live session (not approved yet,
   * collected already, expired).
   */
  async collectSession(pendingSecret: string) {
    const secret = newSecret('ras')
    const got = await this.rows.rekeySession(hashSecret(pendingSecret), hashSecret(secret), this.now())
    return got && { secret, ...got }
  }

  private sessionRow(
    s: {
      kind: SessionRow['kind']
      role: SessionRole
      subject: string
      userAgent?: string | null
      address?: string | null
      fromToken?: string | null
    },
    hash: string
  ): SessionRow {
    const now = this.now()
    return {
      id: newId('ses'),
      hash,
      kind: s.kind,
      role: s.role,
      subject: s.subject.slice(0, 200),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: s.kind === 'screen' ? null : now + BROWSER_SESSION_IDLE_MS,
      revokedAt: null,
      userAgent: s.userAgent?.slice(0, 300) ?? null,
      address: s.address ?? null,
      fromToken: s.fromToken ?? null,
    }
  }

  /** A valid session by its cookie secret (sliding its expiry while used), or undefined. */
  session(secret: string): SessionRow | undefined {
    const row = this.rows.sessionByHash(hashSecret(secret))
    const now = this.now()
    if (!liveSession(row, now)) return undefined
    // A screen's session has no expiry once collected; a pending one keeps its short one.
    const expiresAt = row.kind === 'screen' ? row.expiresAt : now + BROWSER_SESSION_IDLE_MS
    this.touch(row.id, () => this.rows.touchSession(row.id, now, expiresAt))
    return row
  }

  listSessions(): SessionListing[] {
    return this.rows.liveSessions(this.now())
  }

  revokeSession(id: string): Promise<boolean> {
    return this.rows.revokeSession(id, this.now())
  }

  /** Writes a last-used time at most once a minute per credential, off the request's path. */
  private touch(id: string, write: () => Promise<void>): void {
    const now = this.now()
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return
    this.touched.set(id, now)
    if (this.touched.size > 10_000) this.touched.clear()
    write().catch(() => this.touched.delete(id))
  }
}
