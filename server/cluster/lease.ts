/**
 * @module The cluster's leader lease: a PostgreSQL session-level advisory lock held on a connection of
 * its own. Whoever holds it runs the once-per-cluster work (the event relay, rollups, retention).
 *
 * Why an advisory lock: PostgreSQL releases it the moment the holding session ends, so a leader that
 * dies (SIGKILL, crash, OOM) loses it as soon as the kernel closes its socket and the backend exits —
 * no expiry to wait out, no clock to trust. A leader cut off by the network (the socket stays open on
 * the server's side) is noticed by PostgreSQL's TCP keepalives (`tcp_keepalives_*`; the client side
 * here sends them every KEEPALIVE_MS) and by the leader itself when its health query fails, after which
 * it steps down before anyone else can take over. What a deposed leader might still do in between is
 * harmless by construction: the relay publishes with JetStream's expected-last-sequence (relay.ts), so
 * two leaders cannot both extend the stream from the same point.
 */
import pg from 'pg'

/** How often a follower tries to take the lock, and the leader checks it still holds its session. */
export const LEASE_CHECK_MS = 1000
const KEEPALIVE_MS = 2000
/** A health query that takes longer than this means the session is not to be trusted. */
const HEALTH_TIMEOUT_MS = 2000

export interface LeaseOptions {
  url: string
  /** The advisory lock key: one per cluster (instances sharing a database share the key). */
  key: number
  everyMs?: number
  /** Called when this instance becomes leader (true) or stops being one (false). */
  onChange(leading: boolean): void
  onError?(e: Error): void
}

export class LeaderLease {
  private client: pg.Client | null = null
  private timer: NodeJS.Timeout | null = null
  private busy = false
  private stopped = false
  leading = false

  constructor(private opts: LeaseOptions) {}

  start(): void {
    this.stopped = false
    void this.check()
    this.timer = setInterval(() => void this.check(), this.opts.everyMs ?? LEASE_CHECK_MS)
  }

  private async check(): Promise<void> {
    if (this.busy || this.stopped) return
    this.busy = true
    try {
      if (!this.client) this.client = await this.connect()
      if (this.leading) {
        await this.client.query({ text: 'SELECT 1', query_timeout: HEALTH_TIMEOUT_MS } as pg.QueryConfig)
      } else {
        const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [this.opts.key])
        if (r.rows[0]?.ok && !this.stopped) this.setLeading(true)
      }
    } catch (e) {
      this.opts.onError?.(e as Error)
      this.drop()
    } finally {
      this.busy = false
    }
  }

  private async connect(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.opts.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_MS,
      connectionTimeoutMillis: HEALTH_TIMEOUT_MS,
      application_name: 'radiator-lease',
    })
    // An error on an idle client (the server went away) arrives here, not on a query.
    c.on('error', (e) => {
      this.opts.onError?.(e)
      if (this.client === c) this.drop()
    })
    await c.connect()
    return c
  }

  /** The session is gone or untrusted: step down first, then close it (which frees the lock if held). */
  private drop(): void {
    const c = this.client
    this.client = null
    if (this.leading) this.setLeading(false)
    c?.end().catch(() => {})
  }

  private setLeading(leading: boolean): void {
    this.leading = leading
    this.opts.onChange(leading)
  }

  /** Steps down and closes the session: another instance takes over at its next check. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const c = this.client
    this.client = null
    if (this.leading) this.setLeading(false)
    await c?.end().catch(() => {})
  }
}
