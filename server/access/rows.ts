/**
 * @module The access store's statements, for one engine: SQLite's (sqlite-rows.ts) read the database
 * at each call, PostgreSQL's (pg-rows.ts) read an in-memory mirror of the credential tables kept in
 * step across instances. Reads are synchronous on both, because the guard is (it also runs on Node's
 * own request for the long poll); writes settle after COMMIT. What makes a credential usable is
 * stated here once, for the logic (credentials.ts) and the mirror alike.
 */
import type { apiTokens, screens, sessions } from '../db/schema.ts'

export type TokenRow = typeof apiTokens.$inferSelect
export type SessionRow = typeof sessions.$inferSelect
export type ScreenRow = typeof screens.$inferSelect

export type TokenListing = Omit<TokenRow, 'hash' | 'view'>
export type SessionListing = Omit<SessionRow, 'hash' | 'fromToken'>
export type ScreenListing = ScreenRow & Pick<SessionRow, 'lastSeenAt' | 'address' | 'userAgent'>

export type Revocation = { kind: 'token' | 'session'; id: string }

/** An API token may be used until it is revoked (links are used up through `useLink`, never looked up). */
export function usableToken(row: TokenRow | undefined): row is TokenRow {
  return row?.kind === 'api' && row.revokedAt === null
}

/** A session is live until it is revoked or, a browser's, until its sliding expiry passes. */
export function liveSession(row: SessionRow | undefined, now: number): row is SessionRow {
  return !!row && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now)
}

export interface AccessRows {
  // --- reads: synchronous ----------------------------------------------------------------
  tokenByHash(hash: string): TokenRow | undefined
  sessionByHash(hash: string): SessionRow | undefined
  /** API tokens, revoked ones too, newest first. */
  apiTokens(): TokenListing[]
  /** Live sessions, most recently seen first. */
  liveSessions(now: number): SessionListing[]
  /** An unrevoked admin API token, or a live admin session. */
  hasAdmin(now: number): boolean
  screen(id: string): ScreenRow | undefined
  screenOfSession(sessionId: string): ScreenRow | undefined
  /** Screens whose session is not revoked, with the session's last-seen time. */
  screens(): ScreenListing[]

  // --- writes: settled after COMMIT, seen by this instance's reads at once -------------------
  insertToken(row: TokenRow): Promise<void>
  /** Revokes an active token and the browser sessions signed in with it; false when there was none. */
  revokeToken(id: string, now: number): Promise<boolean>
  /** Inserts a link (sign-in or screen share); a sign-in link makes earlier unused ones stop working. */
  insertLink(row: TokenRow): Promise<void>
  /** Uses a one-time link up, in one transaction: its row while unused and unexpired, else null. */
  useLink(hash: string, kind: 'signin' | 'screen-link', now: number): Promise<TokenRow | null>
  /** Inserts a session; rejects when its hash is taken (sessions_hash_idx). */
  insertSession(row: SessionRow): Promise<void>
  revokeSession(id: string, now: number): Promise<boolean>
  /**
   * Gives a live session a new secret's hash, once: the session and its screen when a live session
   * had `oldHash`, else null (pairing.ts: how a screen collects the session an admin approved).
   */
  rekeySession(
    oldHash: string,
    newHash: string,
    now: number
  ): Promise<{ session: SessionRow; screen: ScreenRow | undefined } | null>
  touchToken(id: string, at: number): Promise<void>
  touchSession(id: string, lastSeenAt: number, expiresAt: number | null): Promise<void>
  insertScreen(row: ScreenRow): Promise<void>
  updateScreen(id: string, patch: { name?: string; view?: string }, now: number): Promise<boolean>

  /**
   * Reads a credential the reads above did not find from the database into them (PostgreSQL: a
   * mirror may not have heard of a credential made elsewhere a moment ago). Absent where the reads
   * are the database's own (SQLite).
   */
  fetchByHash?(table: 'api_tokens' | 'sessions', hash: string): Promise<void>

  /** Called once per revoked credential: on SQLite for this process's revocations, on PostgreSQL for every instance's. */
  onRevoke(fn: (r: Revocation) => void): () => void
  /** Resolves once reads answer (the mirror is loaded). */
  readonly ready: Promise<void>
  close(): void
}

/** A unique index refused the row (SQLite's and PostgreSQL's own codes; drizzle wraps the driver's error). */
export function isDuplicate(e: unknown): boolean {
  const err = e as { code?: unknown; cause?: { code?: unknown } } | undefined
  const code = err?.code ?? err?.cause?.code
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505'
}
