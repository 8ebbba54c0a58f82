/** @module Paired screens: name and view per screen session, through the engine's statements (rows.ts). */
import type { AccessRows, ScreenListing, ScreenRow } from './rows.ts'
import { newId } from './secrets.ts'

export type { ScreenRow } from './rows.ts'

export class Screens {
  constructor(
    private rows: AccessRows,
    private now: () => number = Date.now
  ) {}

  async create(sessionId: string, name: string, view: string): Promise<ScreenRow> {
    const now = this.now()
    const row: ScreenRow = { id: newId('scr'), sessionId, name, view, createdAt: now, updatedAt: now }
    await this.rows.insertScreen(row)
    return row
  }

  get(id: string): ScreenRow | undefined {
    return this.rows.screen(id)
  }

  bySession(sessionId: string): ScreenRow | undefined {
    return this.rows.screenOfSession(sessionId)
  }

  /** Screens whose session is not revoked, with the session's last-seen time. */
  list(): ScreenListing[] {
    return this.rows.screens()
  }

  update(id: string, patch: { name?: string; view?: string }): Promise<boolean> {
    return this.rows.updateScreen(id, patch, this.now())
  }
}
