/**
 * @module The one scheduler for background jobs (retention, rollups, salt rotation, live sweeps,
 * heartbeats, backups). A job is named and runs on an interval or at the time its `every` function
 * picks; the next run is armed when the last one has finished, so a job never runs twice at once. A
 * failure is logged and the job stays scheduled. Timers are unref'd: a job never keeps the process
 * alive. Per-request timers (long polls, close grace, coalescing) are not jobs.
 */
import type { Logger } from '../log.ts'

export interface Job {
  name: string
  /** ms from the end of one run to the start of the next, or a function giving that wait now. */
  every: number | (() => number)
  /** Wait before the first run after start (default: one `every`); 0 runs it on the next turn. */
  firstAfterMs?: number
  /** `stopping` aborts on shutdown: a long run (a retention drain) should return at its next step. */
  run(stopping: AbortSignal): unknown
  /**
   * Once per cluster (rollups, retention, salt rotation): runs only while this instance holds the
   * leader lease (server/cluster/lease.ts); on a follower its turn passes. Default: every instance
   * (heartbeats, its own clients' sweeps). A single instance is always the leader.
   */
  cluster?: 'leader'
}

interface Entry {
  job: Job
  timer?: NodeJS.Timeout
  /** Runs of this job, one after another: a run asked for while one is going waits for it. */
  chain: Promise<void>
}

export class Scheduler {
  private entries = new Map<string, Entry>()
  private started = false
  private stopping = new AbortController()

  /** `leading`: whether this instance may run `cluster: 'leader'` jobs now. */
  constructor(
    private log: Pick<Logger, 'warn'>,
    private leading: () => boolean = () => true
  ) {}

  /** Adds a job; armed at `start()`, or at once when the scheduler already runs. */
  add(job: Job): void {
    if (this.entries.has(job.name)) throw new Error(`a job named ${job.name} is already scheduled`)
    const entry: Entry = { job, chain: Promise.resolve() }
    this.entries.set(job.name, entry)
    if (this.started) this.arm(entry, job.firstAfterMs ?? waitOf(job))
  }

  start(): void {
    if (this.started || this.stopping.signal.aborted) return
    this.started = true
    for (const e of this.entries.values()) this.arm(e, e.job.firstAfterMs ?? waitOf(e.job))
  }

  names(): string[] {
    return [...this.entries.keys()]
  }

  /** Runs `name` now, after a run in progress (tests, or a caller that must not wait for the timer). */
  run(name: string): Promise<void> {
    const entry = this.entries.get(name)
    if (!entry) throw new Error(`no job named ${name}`)
    return this.queue(entry)
  }

  /** Disarms every job and resolves once the runs in progress have returned. */
  async stop(): Promise<void> {
    this.stopping.abort()
    for (const e of this.entries.values()) clearTimeout(e.timer)
    await Promise.all([...this.entries.values()].map((e) => e.chain))
  }

  private arm(entry: Entry, ms: number): void {
    clearTimeout(entry.timer)
    if (this.stopping.signal.aborted) return
    entry.timer = setTimeout(() => void this.queue(entry), Math.max(0, ms))
    entry.timer.unref()
  }

  private queue(entry: Entry): Promise<void> {
    const run = entry.chain.then(async () => {
      if (this.stopping.signal.aborted) return
      clearTimeout(entry.timer)
      if (entry.job.cluster === 'leader' && !this.leading()) {
        if (this.started) this.arm(entry, waitOf(entry.job))
        return
      }
      try {
        await entry.job.run(this.stopping.signal)
      } catch (e) {
        this.log.warn(`${entry.job.name} failed`, { job: entry.job.name, err: String(e) })
      }
      if (this.started) this.arm(entry, waitOf(entry.job))
    })
    entry.chain = run
    return run
  }
}

const waitOf = (job: Job) => (typeof job.every === 'number' ? job.every : job.every())
