/**
 * @module Announcements between the instances of a cluster: small, at-most-once messages that keep
 * each instance's in-memory state in step with the others' (a credential revoked on one closes its
 * live connections on all, a visitor's presence seen by one counts on all, a pairing approved on one
 * releases the screen waiting on another). Nothing that must not be lost goes here: what must survive
 * is a row in the database or an event in the live stream; an announcement only says "look again" or
 * carries a value the next one supersedes.
 *
 * One instance (SQLite, no LIVE_BUS_URL) uses `LocalBus`, so the code that announces and listens is
 * the same in both shapes. A message reaches every subscriber, the sender's own included (as NATS
 * does); `from` tells a listener whether it was its own.
 */
import { randomUUID } from 'node:crypto'
import type { NatsConnection, Subscription } from '@nats-io/transport-node'

export type BusHandler = (data: unknown, from: string) => void

export interface Bus {
  /** This instance's id, unique per process start. */
  readonly instance: string
  /** Sends `data` (JSON) to every subscriber of `topic` on every instance, this one included. */
  announce(topic: string, data: unknown): void
  /** Calls `fn` for every announcement on `topic`; returns the unsubscriber. */
  listen(topic: string, fn: BusHandler): () => void
  close(): Promise<void>
}

/** A topic is a dot-free word: it becomes one token of a NATS subject. */
const TOPIC = /^[a-z][a-z0-9-]{0,63}$/

function checkTopic(topic: string): void {
  if (!TOPIC.test(topic)) throw new Error(`bus topic ${JSON.stringify(topic)}: lower-case letters, digits, -`)
}

/** The bus of a single instance: delivered in a later microtask, like a message that went out and back. */
export class LocalBus implements Bus {
  readonly instance = randomUUID()
  private handlers = new Map<string, Set<BusHandler>>()

  announce(topic: string, data: unknown): void {
    checkTopic(topic)
    const set = this.handlers.get(topic)
    if (!set?.size) return
    // Serialized like NATS would: a listener never shares (or mutates) the sender's object.
    const json = JSON.stringify(data)
    queueMicrotask(() => {
      for (const fn of set) fn(JSON.parse(json), this.instance)
    })
  }

  listen(topic: string, fn: BusHandler): () => void {
    checkTopic(topic)
    let set = this.handlers.get(topic)
    if (!set) this.handlers.set(topic, (set = new Set()))
    set.add(fn)
    return () => set.delete(fn)
  }

  async close(): Promise<void> {
    this.handlers.clear()
  }
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/**
 * The bus of a cluster: core NATS (not JetStream: nothing is stored), subject `<prefix>.bus.<topic>`,
 * the payload `{"from":…,"data":…}`. A listener's exception is reported, never thrown into NATS's loop.
 */
export class NatsBus implements Bus {
  readonly instance = randomUUID()
  private subs = new Set<Subscription>()

  constructor(
    private nc: NatsConnection,
    private prefix: string,
    private onError: (e: unknown) => void = () => {}
  ) {}

  announce(topic: string, data: unknown): void {
    checkTopic(topic)
    try {
      this.nc.publish(`${this.prefix}.bus.${topic}`, enc.encode(JSON.stringify({ from: this.instance, data })))
    } catch (e) {
      // A closed or draining connection: announcements are at most once by design.
      this.onError(e)
    }
  }

  listen(topic: string, fn: BusHandler): () => void {
    checkTopic(topic)
    const sub = this.nc.subscribe(`${this.prefix}.bus.${topic}`, {
      callback: (err, msg) => {
        if (err) return this.onError(err)
        try {
          const m = JSON.parse(dec.decode(msg.data)) as { from: string; data: unknown }
          fn(m.data, m.from)
        } catch (e) {
          this.onError(e)
        }
      },
    })
    this.subs.add(sub)
    return () => {
      this.subs.delete(sub)
      sub.unsubscribe()
    }
  }

  async close(): Promise<void> {
    for (const s of this.subs) s.unsubscribe()
    this.subs.clear()
  }
}
