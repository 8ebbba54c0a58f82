/**
 * @module The access store on PostgreSQL (a cluster, issue 17). The guard checks credentials
 * synchronously, so each instance answers from an in-memory mirror of the credential tables (API
 * tokens, live sessions, screens), loaded at start and kept in step three ways:
 * 1. This instance's own writes update it right after their COMMIT, before the caller is answered.
 * 2. After each COMMIT the writer announces `{table, id}` on the bus (topic `access`); every other
 *    instance re-reads that row. A re-read that a newer change overtakes is read again (`changed`),
 *    so an older answer never lands after a newer one.
 * 3. A full reload every RELOAD_EVERY_MS, the safety net for a lost announcement (at most once).
 *
 * Worst-case staleness: a change whose announcement arrives is seen everywhere within the bus's
 * latency plus one primary-key read (milliseconds). A lost one is seen by the next reload that starts
 * after its COMMIT: at most RELOAD_EVERY_MS plus one reload's query. And the mirror is never trusted
 * beyond STALE_AFTER_MS: while reloads fail (the database out of reach) credential checks answer 503,
 * so a revocation cuts access everywhere within STALE_AFTER_MS whatever fails. That is safe because a
 * revoked credential is also refused by every write that checks it in the database (a used link, a
 * collected session), and the bound only delays a refusal, never grants anything new. A revocation
 * seen by any of the three paths fires `onRevoke` on that instance (server.ts closes the credential's
 * live connections there), so connections are cut on every instance, not only where the admin clicked.
 *
 * Only rows a read can need are held: API tokens (revoked ones too, for the admin's list), live
 * sessions and screens. Links (sign-in, screen share) are used up by a write that checks the database.
 */
import { and, eq, gt, inArray, isNotNull, isNull, or } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import type pg from 'pg'
import { z } from 'zod'
import type { Bus } from '../cluster/bus.ts'
import type { PgStore } from '../db/pg/client.ts'
import * as schema from '../db/pg/schema.ts'
import { apiTokens, screens, sessions } from '../db/pg/schema.ts'
import type { PgWriter } from '../db/pg/writer.ts'
import { AppError } from '../errors.ts'
import {
  liveSession,
  usableToken,
  type AccessRows,
  type Revocation,
  type ScreenListing,
  type ScreenRow,
  type SessionListing,
  type SessionRow,
  type TokenListing,
  type TokenRow,
} from './rows.ts'

/** The safety net's period: how late a change whose announcement was lost is seen at worst. */
export const RELOAD_EVERY_MS = 30_000
/** Past this since the last good reload began, credential checks answer 503 instead of trusting the mirror. */
export const STALE_AFTER_MS = 2 * RELOAD_EVERY_MS

const TABLES = ['api_tokens', 'sessions', 'screens'] as const
type Table = (typeof TABLES)[number]
const announcement = z.object({ table: z.enum(TABLES), id: z.string().max(100) })

export interface PgAccessOptions {
  reloadEveryMs?: number
  staleAfterMs?: number
  now?: () => number
  /** A failed reload or re-read (the mirror stays as it was; the next reload tries again). */
  onError?: (e: unknown) => void
}

export class PgAccessRows implements AccessRows {
  private tokens = new Map<string, TokenRow>()
  private tokenHashes = new Map<string, TokenRow>()
  private sessions = new Map<string, SessionRow>()
  private sessionHashes = new Map<string, SessionRow>()
  private screenRows = new Map<string, ScreenRow>()
  private screenBySession = new Map<string, ScreenRow>()

  private listeners = new Set<(r: Revocation) => void>()
  /** Per row being re-read: bumped by every newer change, so the read is retried. */
  private inflight = new Map<string, number>()
  private reading = new Map<string, Promise<void>>()
  /** Rows changed while a reload runs: the reload's older snapshot must not overwrite them. */
  private changedInReload: Set<string> | null = null
  /** When the last good reload began: the mirror holds at least everything committed before. */
  private loadedAt = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private unlisten: () => void
  private o: Required<PgAccessOptions>
  readonly ready: Promise<void>

  constructor(
    private store: PgStore,
    private writer: PgWriter,
    private bus: Bus,
    opts: PgAccessOptions = {}
  ) {
    this.o = {
      reloadEveryMs: RELOAD_EVERY_MS,
      staleAfterMs: STALE_AFTER_MS,
      now: Date.now,
      onError: (e) => console.warn(`access mirror: ${(e as Error).message}`),
      ...opts,
    }
    this.unlisten = bus.listen('access', (data, from) => {
      if (from === bus.instance) return // applied at its COMMIT already
      const a = announcement.safeParse(data)
      if (a.success) void this.refresh(a.data.table, a.data.id)
    })
    this.ready = this.reload().then(() => this.schedule())
  }

  // --- reads -----------------------------------------------------------------------------

  tokenByHash(hash: string): TokenRow | undefined {
    this.trusted()
    return this.tokenHashes.get(hash)
  }

  sessionByHash(hash: string): SessionRow | undefined {
    this.trusted()
    return this.sessionHashes.get(hash)
  }

  apiTokens(): TokenListing[] {
    return [...this.tokens.values()].sort((a, b) => b.createdAt - a.createdAt).map(({ hash: _h, view: _v, ...t }) => t)
  }

  liveSessions(now: number): SessionListing[] {
    return [...this.sessions.values()]
      .filter((s) => liveSession(s, now))
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
      .map(({ hash: _h, fromToken: _f, ...s }) => s)
  }

  hasAdmin(now: number): boolean {
    for (const t of this.tokens.values()) if (t.role === 'admin' && usableToken(t)) return true
    for (const s of this.sessions.values()) if (s.role === 'admin' && liveSession(s, now)) return true
    return false
  }

  screen(id: string): ScreenRow | undefined {
    return this.screenRows.get(id)
  }

  screenOfSession(sessionId: string): ScreenRow | undefined {
    return this.screenBySession.get(sessionId)
  }

  screens(): ScreenListing[] {
    const out: ScreenListing[] = []
    for (const s of this.screenRows.values()) {
      const session = this.sessions.get(s.sessionId)
      if (session)
        out.push({ ...s, lastSeenAt: session.lastSeenAt, address: session.address, userAgent: session.userAgent })
    }
    return out
  }

  /** Refuses to answer from a mirror that may have missed a revocation for too long. */
  private trusted(): void {
    if (this.o.now() - this.loadedAt <= this.o.staleAfterMs) return
    throw new AppError(
      'UNAVAILABLE',
      'credentials cannot be checked right now (the database is out of reach); try again shortly',
      undefined,
      { 'retry-after': '5' }
    )
  }

  // --- writes ----------------------------------------------------------------------------

  async insertToken(row: TokenRow): Promise<void> {
    await this.write((d) => d.insert(apiTokens).values(row))
    this.committed('api_tokens', row.id, row)
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    const got = await this.write(async (d) => {
      const [token] = await d
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
        .returning()
      if (!token) return null
      const ended = await d
        .update(sessions)
        .set({ revokedAt: now })
        .where(and(eq(sessions.fromToken, id), isNull(sessions.revokedAt)))
        .returning()
      return { token, ended }
    })
    if (!got) return false
    this.committed('api_tokens', id, got.token)
    for (const s of got.ended) this.committed('sessions', s.id, s)
    return true
  }

  async insertLink(row: TokenRow): Promise<void> {
    await this.write(async (d) => {
      if (row.kind === 'signin')
        await d
          .update(apiTokens)
          .set({ revokedAt: row.createdAt })
          .where(and(eq(apiTokens.kind, 'signin'), isNull(apiTokens.revokedAt)))
      await d.insert(apiTokens).values(row)
    })
  }

  async useLink(hash: string, kind: 'signin' | 'screen-link', now: number): Promise<TokenRow | null> {
    // One conditional UPDATE: of two instances using the same link at once, one gets the row.
    const [row] = await this.write((d) =>
      d
        .update(apiTokens)
        .set({ revokedAt: now, lastUsedAt: now })
        .where(
          and(
            eq(apiTokens.hash, hash),
            eq(apiTokens.kind, kind),
            isNull(apiTokens.revokedAt),
            gt(apiTokens.expiresAt, now)
          )
        )
        .returning()
    )
    return row ?? null
  }

  async insertSession(row: SessionRow): Promise<void> {
    await this.write((d) => d.insert(sessions).values(row))
    this.committed('sessions', row.id, row)
  }

  async revokeSession(id: string, now: number): Promise<boolean> {
    const [row] = await this.write((d) =>
      d
        .update(sessions)
        .set({ revokedAt: now })
        .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
        .returning()
    )
    if (!row) return false
    this.committed('sessions', id, row)
    return true
  }

  async rekeySession(oldHash: string, newHash: string, now: number) {
    const got = await this.write(async (d) => {
      const [session] = await d
        .update(sessions)
        .set({ hash: newHash, expiresAt: null, lastSeenAt: now })
        .where(
          and(
            eq(sessions.hash, oldHash),
            isNull(sessions.revokedAt),
            or(isNull(sessions.expiresAt), gt(sessions.expiresAt, now))
          )
        )
        .returning()
      if (!session) return null
      const [screen] = await d.select().from(screens).where(eq(screens.sessionId, session.id))
      return { session, screen }
    })
    if (got) this.committed('sessions', got.session.id, got.session)
    return got
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.write((d) => d.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)))
    // Not announced: last-used times reach the other mirrors with their next reload.
    const t = this.tokens.get(id)
    if (t) this.setToken(id, { ...t, lastUsedAt: at })
  }

  async touchSession(id: string, lastSeenAt: number, expiresAt: number | null): Promise<void> {
    await this.write((d) => d.update(sessions).set({ lastSeenAt, expiresAt }).where(eq(sessions.id, id)))
    const s = this.sessions.get(id)
    if (s) this.setSession(id, { ...s, lastSeenAt, expiresAt })
  }

  async insertScreen(row: ScreenRow): Promise<void> {
    await this.write((d) => d.insert(screens).values(row))
    this.committed('screens', row.id, row)
  }

  async updateScreen(id: string, patch: { name?: string; view?: string }, now: number): Promise<boolean> {
    const [row] = await this.write((d) =>
      d
        .update(screens)
        .set({ ...patch, updatedAt: now })
        .where(eq(screens.id, id))
        .returning()
    )
    if (!row) return false
    this.committed('screens', id, row)
    return true
  }

  onRevoke(fn: (r: Revocation) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.unlisten()
    this.listeners.clear()
  }

  private write<T>(op: (d: ReturnType<typeof onClient>) => Promise<T>): Promise<T> {
    return this.writer.write((tx) => op(onClient(tx)))
  }

  // --- keeping the mirror in step ---------------------------------------------------------

  /** After this instance's COMMIT: into its own mirror now, and told to the others. */
  private committed(table: Table, id: string, row: TokenRow | SessionRow | ScreenRow): void {
    this.changed(`${table}:${id}`)
    this.apply(table, id, row)
    this.bus.announce('access', { table, id })
  }

  /** Marks a row changed: a re-read of it in flight reads again, a reload in flight leaves it be. */
  private changed(key: string): void {
    const gen = this.inflight.get(key)
    if (gen !== undefined) this.inflight.set(key, gen + 1)
    this.changedInReload?.add(key)
  }

  /** Re-reads one row (another instance changed it), again while newer changes overtake the read. */
  private refresh(table: Table, id: string): Promise<void> {
    const key = `${table}:${id}`
    const running = this.reading.get(key)
    this.changed(key)
    if (running) return running
    this.inflight.set(key, 0)
    const reading = (async () => {
      try {
        for (;;) {
          const gen = this.inflight.get(key)
          const row = await this.read(table, id)
          if (this.closed) return
          if (this.inflight.get(key) === gen) {
            this.apply(table, id, row)
            return
          }
        }
      } catch (e) {
        this.o.onError(e)
      } finally {
        this.inflight.delete(key)
        this.reading.delete(key)
      }
    })()
    this.reading.set(key, reading)
    return reading
  }

  /**
   * Looks up a credential the mirror does not hold: it may have been made on another instance a
   * moment ago, its announcement still on the way (a screen just paired on one instance asks the next
   * one for its view). Only on a miss, so only for failed credential checks, which are rate-limited.
   */
  async fetchByHash(table: 'api_tokens' | 'sessions', hash: string): Promise<void> {
    const db = this.store.db
    const [row] =
      table === 'api_tokens'
        ? await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.hash, hash))
        : await db.select({ id: sessions.id }).from(sessions).where(eq(sessions.hash, hash))
    if (row) await this.refresh(table, row.id)
  }

  private async read(table: Table, id: string) {
    const db = this.store.db
    if (table === 'api_tokens') return (await db.select().from(apiTokens).where(eq(apiTokens.id, id)))[0]
    if (table === 'sessions') return (await db.select().from(sessions).where(eq(sessions.id, id)))[0]
    return (await db.select().from(screens).where(eq(screens.id, id)))[0]
  }

  private apply(table: Table, id: string, row: TokenRow | SessionRow | ScreenRow | undefined): void {
    if (table === 'api_tokens') this.setToken(id, row as TokenRow | undefined)
    else if (table === 'sessions') this.setSession(id, row as SessionRow | undefined)
    else this.setScreen(id, row as ScreenRow | undefined)
  }

  private setToken(id: string, row: TokenRow | undefined): void {
    const prev = this.tokens.get(id)
    if (prev) this.tokenHashes.delete(prev.hash)
    if (row?.kind === 'api') {
      this.tokens.set(id, row)
      this.tokenHashes.set(row.hash, row)
    } else this.tokens.delete(id)
    if (usableToken(prev) && !usableToken(row)) this.revoked({ kind: 'token', id })
  }

  private setSession(id: string, row: SessionRow | undefined): void {
    const prev = this.sessions.get(id)
    if (prev) this.sessionHashes.delete(prev.hash)
    if (liveSession(row, this.o.now())) {
      this.sessions.set(id, row)
      this.sessionHashes.set(row.hash, row)
    } else this.sessions.delete(id)
    // Gone from the table or revoked: its connections go. Merely expired: they stay, as on SQLite.
    if (prev && (!row || row.revokedAt !== null)) this.revoked({ kind: 'session', id })
  }

  private setScreen(id: string, row: ScreenRow | undefined): void {
    const prev = this.screenRows.get(id)
    if (prev) this.screenBySession.delete(prev.sessionId)
    if (row) {
      this.screenRows.set(id, row)
      this.screenBySession.set(row.sessionId, row)
    } else this.screenRows.delete(id)
  }

  private revoked(r: Revocation): void {
    for (const fn of this.listeners) fn(r)
  }

  /** Reads the three tables afresh and puts them in place, keeping the rows changed meanwhile. */
  private async reload(): Promise<void> {
    const startedAt = this.o.now()
    const changed = (this.changedInReload = new Set())
    try {
      const db = this.store.db
      const [tokenRows, sessionRows, screenRows] = await Promise.all([
        db.select().from(apiTokens).where(eq(apiTokens.kind, 'api')),
        db
          .select()
          .from(sessions)
          .where(and(isNull(sessions.revokedAt), or(isNull(sessions.expiresAt), gt(sessions.expiresAt, startedAt)))),
        db.select().from(screens),
      ])
      // Sessions that left the live set: revoked (their connections must go) or merely expired.
      const live = new Set(sessionRows.map((s) => s.id))
      const gone = [...this.sessions.keys()].filter((id) => !live.has(id) && !changed.has(`sessions:${id}`))
      const revokedGone = gone.length
        ? new Set(
            (
              await db
                .select({ id: sessions.id })
                .from(sessions)
                .where(and(inArray(sessions.id, gone), isNotNull(sessions.revokedAt)))
            ).map((r) => r.id)
          )
        : new Set<string>()
      if (this.closed) return
      this.install('api_tokens', tokenRows, this.tokens, (id, row) => this.setToken(id, row), changed)
      for (const id of gone) {
        const prev = this.sessions.get(id)
        if (!prev || changed.has(`sessions:${id}`)) continue
        // Dropped as expired unless the database says revoked (then setSession fires onRevoke).
        this.setSession(id, revokedGone.has(id) ? { ...prev, revokedAt: startedAt } : { ...prev, expiresAt: 0 })
      }
      for (const row of sessionRows) if (!changed.has(`sessions:${row.id}`)) this.setSession(row.id, row)
      this.install('screens', screenRows, this.screenRows, (id, row) => this.setScreen(id, row), changed)
      this.loadedAt = startedAt
    } finally {
      this.changedInReload = null
    }
  }

  private install<R extends { id: string }>(
    table: Table,
    rows: R[],
    current: Map<string, R>,
    set: (id: string, row: R | undefined) => void,
    changed: Set<string>
  ): void {
    const fresh = new Map(rows.map((r) => [r.id, r]))
    for (const id of [...current.keys()]) if (!fresh.has(id) && !changed.has(`${table}:${id}`)) set(id, undefined)
    for (const [id, row] of fresh) if (!changed.has(`${table}:${id}`)) set(id, row)
  }

  private schedule(): void {
    if (this.closed) return
    this.timer = setTimeout(() => {
      this.reload()
        .catch((e) => this.o.onError(e))
        .finally(() => this.schedule())
    }, this.o.reloadEveryMs)
    this.timer.unref()
  }
}

/** A drizzle handle on the writer's transaction connection. */
function onClient(tx: pg.ClientBase) {
  return drizzle({ client: tx as pg.PoolClient, schema })
}
