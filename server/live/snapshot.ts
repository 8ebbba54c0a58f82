/**
 * @module The first frame of every connection: the connection's facts (version, clock, head) and,
 * for a client that is not resuming, the state every capability contributes (tiles, sites, metrics),
 * built once per head and shared by every client connecting meanwhile.
 */
import type { SnapshotData, SnapshotState } from '../../contract/live.ts'
import { Frame, type LiveEvent, Serialized } from './frame.ts'

/**
 * A snapshot's state is rebuilt after this long even at the same head, for state that changes
 * without an event.
 */
const SNAPSHOT_TTL_MS = 1000

export interface SnapshotFacts {
  version: string
  /** Sent so a screen knows how much silence means trouble. */
  heartbeatMs: number
  pollTimeoutMs: number
}

export class Snapshots {
  private providers = new Map<keyof SnapshotState, () => unknown>()
  private cache: { head: number; builtAt: number; state: Record<string, unknown>; tail: Serialized } | undefined

  constructor(
    private facts: SnapshotFacts,
    private now: () => number
  ) {}

  add<K extends keyof SnapshotState>(name: K, provider: () => SnapshotState[K]): void {
    this.providers.set(name, provider)
  }

  /**
   * A snapshot frame with id `id` at `head`. A resuming client (`resumed`) already has the state and
   * gets the replay after it, so its snapshot carries only the connection's facts: a room of screens
   * reconnecting after a restart gets well under 1 KB each instead of every tile (180 KB with 200
   * pipelines, bench/storm.ts).
   */
  frame(id: number, head: number, reset: boolean, resumed = false): Frame {
    const at = new Date(this.now()).toISOString()
    const meta: SnapshotData = {
      version: this.facts.version,
      serverTime: at,
      head,
      reset,
      resumed,
      heartbeatMs: this.facts.heartbeatMs,
      pollTimeoutMs: this.facts.pollTimeoutMs,
    }
    if (resumed) return new Frame({ id, type: 'snapshot', at, data: meta })
    const { state, tail } = this.state(head)
    // The state's JSON is spliced in rather than encoded again for every connecting client.
    const json = `{"id":${id},"type":"snapshot","at":"${at}","data":${JSON.stringify(meta).slice(0, -1)}${tail.json}`
    const event: LiveEvent = { id, type: 'snapshot', at, data: { ...meta, ...state } }
    return new Frame(event, json, tail)
  }

  /**
   * The providers' state, built at most once per head (and per SNAPSHOT_TTL_MS). `tail` ends every
   * snapshot frame's JSON (`,"pipelines":[…],…}}`): one object shared by every frame built from this
   * state, so a transport that compresses it does so once.
   */
  private state(head: number): { state: Record<string, unknown>; tail: Serialized } {
    const now = this.now()
    const c = this.cache
    if (c && c.head === head && now - c.builtAt < SNAPSHOT_TTL_MS && now >= c.builtAt) return c
    const state: Record<string, unknown> = {}
    for (const [name, p] of this.providers) state[name] = p()
    const inner = JSON.stringify(state).slice(1, -1)
    this.cache = { head, builtAt: now, state, tail: new Serialized(inner ? `,${inner}}}` : '}}') }
    return this.cache
  }
}
