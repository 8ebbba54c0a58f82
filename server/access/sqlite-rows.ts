/**
 * @module The access store on SQLite (one instance): drizzle queries on the shared connection at each
 * read, every write through the one writer. A revocation is seen by the next read, whoever wrote it
 * (the token CLI writes from another process).
 */
import { and, desc, eq, gt, isNull, or } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { apiTokens, screens, sessions } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import type { AccessRows, Revocation, ScreenRow, SessionRow, TokenRow } from './rows.ts'

export class SqliteAccessRows implements AccessRows {
  private listeners = new Set<(r: Revocation) => void>()
  readonly ready = Promise.resolve()

  constructor(
    private db: Db,
    private writer: Writer
  ) {}

  tokenByHash(hash: string): TokenRow | undefined {
    return this.db.select().from(apiTokens).where(eq(apiTokens.hash, hash)).get()
  }

  sessionByHash(hash: string): SessionRow | undefined {
    return this.db.select().from(sessions).where(eq(sessions.hash, hash)).get()
  }

  apiTokens() {
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

  liveSessions(now: number) {
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

  hasAdmin(now: number): boolean {
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

  screen(id: string): ScreenRow | undefined {
    return this.db.select().from(screens).where(eq(screens.id, id)).get()
  }

  screenOfSession(sessionId: string): ScreenRow | undefined {
    return this.db.select().from(screens).where(eq(screens.sessionId, sessionId)).get()
  }

  screens() {
    return this.db
      .select({
        id: screens.id,
        sessionId: screens.sessionId,
        name: screens.name,
        view: screens.view,
        createdAt: screens.createdAt,
        updatedAt: screens.updatedAt,
        lastSeenAt: sessions.lastSeenAt,
        address: sessions.address,
        userAgent: sessions.userAgent,
      })
      .from(screens)
      .innerJoin(sessions, eq(screens.sessionId, sessions.id))
      .where(isNull(sessions.revokedAt))
      .all()
  }

  async insertToken(row: TokenRow): Promise<void> {
    await this.writer.write(() => this.db.insert(apiTokens).values(row).run())
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    const { n, ended } = await this.writer.write(() => {
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
    if (n) this.revoked({ kind: 'token', id })
    for (const s of ended) this.revoked({ kind: 'session', id: s.id })
    return n > 0
  }

  async insertLink(row: TokenRow): Promise<void> {
    await this.writer.write(() => {
      if (row.kind === 'signin')
        this.db
          .update(apiTokens)
          .set({ revokedAt: row.createdAt })
          .where(and(eq(apiTokens.kind, 'signin'), isNull(apiTokens.revokedAt)))
          .run()
      this.db.insert(apiTokens).values(row).run()
    })
  }

  useLink(hash: string, kind: 'signin' | 'screen-link', now: number): Promise<TokenRow | null> {
    return this.writer.write(() => {
      const row = this.db.select().from(apiTokens).where(eq(apiTokens.hash, hash)).get()
      if (!row || row.kind !== kind || row.revokedAt !== null || (row.expiresAt ?? 0) <= now) return null
      this.db.update(apiTokens).set({ revokedAt: now, lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run()
      return row
    })
  }

  async insertSession(row: SessionRow): Promise<void> {
    await this.writer.write(() => this.db.insert(sessions).values(row).run())
  }

  async revokeSession(id: string, now: number): Promise<boolean> {
    const n = await this.writer.write(
      () =>
        this.db
          .update(sessions)
          .set({ revokedAt: now })
          .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
          .run().changes
    )
    if (n) this.revoked({ kind: 'session', id })
    return n > 0
  }

  rekeySession(oldHash: string, newHash: string, now: number) {
    return this.writer.write(() => {
      const row = this.db.select().from(sessions).where(eq(sessions.hash, oldHash)).get()
      if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null
      const session = { ...row, hash: newHash, expiresAt: null, lastSeenAt: now }
      this.db
        .update(sessions)
        .set({ hash: newHash, expiresAt: null, lastSeenAt: now })
        .where(eq(sessions.id, row.id))
        .run()
      return { session, screen: this.screenOfSession(row.id) }
    })
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.writer.write(() => this.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run())
  }

  async touchSession(id: string, lastSeenAt: number, expiresAt: number | null): Promise<void> {
    await this.writer.write(() =>
      this.db.update(sessions).set({ lastSeenAt, expiresAt }).where(eq(sessions.id, id)).run()
    )
  }

  async insertScreen(row: ScreenRow): Promise<void> {
    await this.writer.write(() => this.db.insert(screens).values(row).run())
  }

  updateScreen(id: string, patch: { name?: string; view?: string }, now: number): Promise<boolean> {
    return this.writer.write(
      () =>
        this.db
          .update(screens)
          .set({ ...patch, updatedAt: now })
          .where(eq(screens.id, id))
          .run().changes > 0
    )
  }

  onRevoke(fn: (r: Revocation) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private revoked(r: Revocation): void {
    for (const fn of this.listeners) fn(r)
  }

  close(): void {
    this.listeners.clear()
  }
}
