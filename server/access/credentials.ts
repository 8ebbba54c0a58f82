/**
 * @module API tokens, one-time sign-in links and sessions: created, looked up by the hash of their
 * secret, touched while used, revoked. Reads are drizzle queries on the shared connection; every
 * write goes through the one writer. Revocations are announced so open live connections of the
 * revoked credential can be cut at once.
 */
import { and, desc, eq, gt, isNull, or } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { apiTokens, sessions } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import type { Role, SessionRole } from './roles.ts'
import { DAY_MS } from '../time.ts'
import { hashSecret, newId, newSecret } from './secrets.ts'

export type TokenRow = typeof apiTokens.$inferSelect
export type SessionRow = typeof sessions.$inferSelect

/** A browser session ends after this long unused; every use moves the end. */
export const BROWSER_SESSION_IDLE_MS = 30 * DAY_MS
/** A first-start sign-in link is good for this long, once. */
export const SIGNIN_LINK_TTL_MS = DAY_MS
/** A screen share link (`/tv?pair=…`) is good for this long, once. */
export const SCREEN_LINK_TTL_MS = 7 * DAY_MS
/** Last-used and last-seen times are written at most this often per credential. */
const TOUCH_EVERY_MS = 60_000

export type Revocation = { kind: 'token' | 'session'; id: string }

export class Credentials {
  private listeners = new Set<(r: Revocation) => void>()
  private touched = new Map<string, number>()

  constructor(
    private db: Db,
    private writer: Writer,
    private now: () => number = Date.now
  ) {}

  onRevoke(fn: (r: Revocation) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  // --- API tokens -------------------------------------------------------------------------

  async createToken(name: string, role: Role): Promise<{ id: string; secret: string }> {
    const secret = newSecret('rad')
    const id = newId('tok')
    await this.writer.write(() =>
      this.db
        .insert(apiTokens)
        .values({ id, kind: 'api', name, role, hash: hashSecret(secret), createdAt: this.now() })
        .run()
    )
    return { id, secret }
  }

  listTokens(): Omit<TokenRow, 'hash' | 'view'>[] {
    return this.db
      .select({
        id: apiTokens.id,
        kind: apiTokens.kind,
        name: apiTokens.name,
        role: apiTokens.role,
        createdAt: apiTokens.createdAt,
        lastUsedAt: apiTokens.lastUsedAt,
        expiresAt: apiTokens.expiresAt,
        revokedAt: apiTokens.revokedAt,
      })
      .from(apiTokens)
      .where(eq(apiTokens.kind, 'api'))
      .orderBy(desc(apiTokens.createdAt))
      .all()
  }

  /** A usable API token by its secret, or undefined. */
  token(secret: string): TokenRow | undefined {
    const row = this.db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.hash, hashSecret(secret)))
      .get()
    if (row?.kind !== 'api' || row.revokedAt !== null) return undefined
    this.touch(row.id, () =>
      this.db.update(apiTokens).set({ lastUsedAt: this.now() }).where(eq(apiTokens.id, row.id)).run()
    )
    return row
  }

  /** Revokes a token and every browser session signed in with it. */
  async revokeToken(id: string): Promise<boolean> {
    const { n, ended } = await this.writer.write(() => {
      const now = this.now()
      const n = this.db
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
        .run().changes
      const ended = n
        ? this.db
            .update(sessions)
            .set({ revokedAt: now })
            .where(and(eq(sessions.fromToken, id), isNull(sessions.revokedAt)))
            .returning({ id: sessions.id })
            .all()
        : []
      return { n, ended }
    })
    if (n) this.announce({ kind: 'token', id })
    for (const s of ended) this.announce({ kind: 'session', id: s.id })
    return n > 0
  }

  // --- one-time sign-in links -------------------------------------------------------------

  /** A new admin sign-in link's secret; earlier unused links stop working. */
  async createSigninLink(): Promise<string> {
    const secret = newSecret('rsi')
    const now = this.now()
    await this.writer.write(() => {
      this.db
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(eq(apiTokens.kind, 'signin'), isNull(apiTokens.revokedAt)))
        .run()
      this.db
        .insert(apiTokens)
        .values({
          id: newId('lnk'),
          kind: 'signin',
          name: 'sign-in link',
          role: 'admin',
          hash: hashSecret(secret),
          createdAt: now,
          expiresAt: now + SIGNIN_LINK_TTL_MS,
        })
        .run()
    })
    return secret
  }

  /** A one-time link a script hands to a screen; it becomes that screen's session when opened. */
  async createScreenLink(name: string, view: string): Promise<{ secret: string; expiresAt: number }> {
    const secret = newSecret('rsl')
    const now = this.now()
    const expiresAt = now + SCREEN_LINK_TTL_MS
    await this.writer.write(() =>
      this.db
        .insert(apiTokens)
        .values({
          id: newId('lnk'),
          kind: 'screen-link',
          name,
          view,
          role: 'viewer',
          hash: hashSecret(secret),
          createdAt: now,
          expiresAt,
        })
        .run()
    )
    return { secret, expiresAt }
  }

  /**
   * Uses a one-time link up, in one transaction so two tabs can't both use it: its row while it is
   * unused and unexpired, else null.
   */
  private useLink(secret: string, kind: 'signin' | 'screen-link'): Promise<TokenRow | null> {
    const hash = hashSecret(secret)
    return this.writer.write(() => {
      const row = this.db.select().from(apiTokens).where(eq(apiTokens.hash, hash)).get()
      const now = this.now()
      if (!row || row.kind !== kind || row.revokedAt !== null || (row.expiresAt ?? 0) <= now) return null
      this.db.update(apiTokens).set({ revokedAt: now, lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run()
      return row
    })
  }

  /** Uses a sign-in link up; its role, or null. */
  async consumeSigninLink(secret: string): Promise<Role | null> {
    return (await this.useLink(secret, 'signin'))?.role ?? null
  }

  /** Uses a screen share link up; the screen's name and view, or null. */
  async consumeScreenLink(secret: string): Promise<{ name: string; view: string } | null> {
    const row = await this.useLink(secret, 'screen-link')
    return row ? { name: row.name, view: row.view ?? '/tv' } : null
  }

  /** Whether anyone can administer this Radiator: an admin token or a live admin session. */
  hasAdmin(): boolean {
    const now = this.now()
    const token = this.db
      .select({ id: apiTokens.id })
      .from(apiTokens)
      .where(and(eq(apiTokens.kind, 'api'), eq(apiTokens.role, 'admin'), isNull(apiTokens.revokedAt)))
      .get()
    if (token) return true
    const session = this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(
        and(
          eq(sessions.role, 'admin'),
          isNull(sessions.revokedAt),
          or(isNull(sessions.expiresAt), gt(sessions.expiresAt, now))
        )
      )
      .get()
    return !!session
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
    const now = this.now()
    const row: SessionRow = {
      id: newId('ses'),
      hash: hashSecret(secret),
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
    await this.writer.write(() => this.db.insert(sessions).values(row).run())
    return { id: row.id, secret, row }
  }

  /** A valid session by its cookie secret (sliding its expiry while used), or undefined. */
  session(secret: string): SessionRow | undefined {
    const row = this.db
      .select()
      .from(sessions)
      .where(eq(sessions.hash, hashSecret(secret)))
      .get()
    const now = this.now()
    if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return undefined
    this.touch(row.id, () =>
      this.db
        .update(sessions)
        .set({ lastSeenAt: now, expiresAt: row.kind === 'screen' ? null : now + BROWSER_SESSION_IDLE_MS })
        .where(eq(sessions.id, row.id))
        .run()
    )
    return row
  }

  listSessions(): Omit<SessionRow, 'hash' | 'fromToken'>[] {
    const now = this.now()
    return this.db
      .select({
        id: sessions.id,
        kind: sessions.kind,
        role: sessions.role,
        subject: sessions.subject,
        createdAt: sessions.createdAt,
        lastSeenAt: sessions.lastSeenAt,
        expiresAt: sessions.expiresAt,
        revokedAt: sessions.revokedAt,
        userAgent: sessions.userAgent,
        address: sessions.address,
      })
      .from(sessions)
      .where(and(isNull(sessions.revokedAt), or(isNull(sessions.expiresAt), gt(sessions.expiresAt, now))))
      .orderBy(desc(sessions.lastSeenAt))
      .all()
  }

  async revokeSession(id: string): Promise<boolean> {
    const n = await this.writer.write(
      () =>
        this.db
          .update(sessions)
          .set({ revokedAt: this.now() })
          .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
          .run().changes
    )
    if (n) this.announce({ kind: 'session', id })
    return n > 0
  }

  private announce(r: Revocation): void {
    for (const fn of this.listeners) fn(r)
  }

  /** Writes a last-used time at most once a minute per credential, off the request's path. */
  private touch(id: string, write: () => void): void {
    const now = this.now()
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return
    this.touched.set(id, now)
    if (this.touched.size > 10_000) this.touched.clear()
    this.writer.write(write).catch(() => this.touched.delete(id))
  }
}
