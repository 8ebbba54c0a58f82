/** @module Paired screens: name and view per screen session, read and written through drizzle. */
import { eq, isNull } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { screens, sessions } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import { newId } from './secrets.ts'

export type ScreenRow = typeof screens.$inferSelect

export class Screens {
  constructor(
    private db: Db,
    private writer: Writer,
    private now: () => number = Date.now
  ) {}

  create(sessionId: string, name: string, view: string): Promise<ScreenRow> {
    const now = this.now()
    const row: ScreenRow = { id: newId('scr'), sessionId, name, view, createdAt: now, updatedAt: now }
    return this.writer.write(() => {
      this.db.insert(screens).values(row).run()
      return row
    })
  }

  get(id: string): ScreenRow | undefined {
    return this.db.select().from(screens).where(eq(screens.id, id)).get()
  }

  bySession(sessionId: string): ScreenRow | undefined {
    return this.db.select().from(screens).where(eq(screens.sessionId, sessionId)).get()
  }

  /** Screens whose session is not revoked, with the session's last-seen time. */
  list() {
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

  update(id: string, patch: { name?: string; view?: string }): Promise<boolean> {
    return this.writer.write(
      () =>
        this.db
          .update(screens)
          .set({ ...patch, updatedAt: this.now() })
          .where(eq(screens.id, id))
          .run().changes > 0
    )
  }
}
