/**
 * @module The live stream on NATS JetStream, shared by every instance of a cluster.
 *
 * One stream holds every live event in the order clients see them, and the stream sequence IS the
 * event id a client sees and resumes from (`since=`): JetStream gives it gap-free and strictly
 * increasing for as long as the stream lives, and any instance can read any part of it back, so a
 * screen that reconnects to another instance resumes exactly where it left off. Only the leader's
 * relay (relay.ts) publishes into it; every instance consumes it in order (an ordered consumer, which
 * JetStream restarts from the last sequence it delivered if a message goes missing) and fans out to
 * its own screens.
 *
 * A message: the event's data JSON as payload, its type and time in headers, and `Radiator-Through`,
 * the newest PostgreSQL event id the relay had published when it sent it (event-log.ts), which lets a
 * new leader find where the previous one stopped from the stream alone.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream'
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node'

export const H_TYPE = 'Radiator-Type'
export const H_AT = 'Radiator-At'
export const H_THROUGH = 'Radiator-Through'

export interface StreamEvent {
  /** the stream sequence: the id clients see */
  id: number
  type: string
  /** ms since the epoch */
  at: number
  /** the data, as JSON text */
  data: string
  /** newest persisted event id relayed as of this message */
  through: number
}

export interface StreamOptions {
  /** The stream's name; its one subject is `<name>.events`. */
  name: string
  /** How long events are kept for resuming clients (EVENT_RETENTION_DAYS). */
  maxAgeMs: number
  /** A cap on the stream's size; the oldest go first (a resume from before them is a reset). */
  maxBytes?: number
}

const NS = 1_000_000

export class LiveStream {
  readonly subject: string
  readonly js: JetStreamClient
  private jsm!: JetStreamManager

  constructor(
    readonly nc: NatsConnection,
    readonly opts: StreamOptions
  ) {
    this.subject = `${opts.name}.events`
    this.js = jetstream(nc)
  }

  /** Creates the stream, or leaves an existing one as it is (every instance calls this at start). */
  async ensure(): Promise<void> {
    this.jsm = await jetstreamManager(this.nc)
    const config = {
      name: this.opts.name,
      subjects: [this.subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: this.opts.maxAgeMs * NS,
      max_bytes: this.opts.maxBytes ?? -1,
      num_replicas: 1,
    }
    try {
      await this.jsm.streams.info(this.opts.name)
    } catch {
      try {
        await this.jsm.streams.add(config)
      } catch (e) {
        // Another instance created it between our look and our add: that is the same stream.
        await this.jsm.streams.info(this.opts.name).catch(() => {
          throw e
        })
      }
    }
  }

  /**
   * The stream's last sequence, and the `Radiator-Through` of the message there; `through` is null when
   * no message is left to read it from (an empty stream, or every message aged out).
   */
  async tail(): Promise<{ seq: number; through: number | null }> {
    const info = await this.jsm.streams.info(this.opts.name)
    const seq = info.state.last_seq
    if (info.state.messages === 0) return { seq, through: null }
    const m = await this.jsm.streams.getMessage(this.opts.name, { seq })
    return { seq, through: m ? decode(m.seq, m.header, m.data).through : null }
  }

  /** The first sequence still in the stream (older ones were trimmed by age or size). */
  async firstSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.opts.name)
    return info.state.first_seq
  }

  /** Deletes the stream and everything in it (tests; an operator resetting a cluster). */
  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.opts.name)
  }

  /**
   * Publishes one event; `expectLast` is the sequence the stream must be at, so a publisher that is not
   * the only one (a leader deposed without knowing it yet) fails instead of interleaving.
   * Returns the sequence the event got.
   */
  async publish(ev: Omit<StreamEvent, 'id'>, expectLast: number): Promise<number> {
    const h = headers()
    h.set(H_TYPE, ev.type)
    h.set(H_AT, String(ev.at))
    h.set(H_THROUGH, String(ev.through))
    const ack = await this.js.publish(this.subject, ev.data, { headers: h, expect: { lastSequence: expectLast } })
    return ack.seq
  }

  /**
   * Delivers every event after `afterSeq`, in order, to `onEvent`, until `stop()` is called. An ordered
   * consumer: no state on the server to clean up, and a gap makes the client recreate it from the last
   * sequence it delivered.
   */
  async follow(afterSeq: number, onEvent: (ev: StreamEvent) => void): Promise<{ stop(): void; done: Promise<void> }> {
    const consumer = await this.js.consumers.get(this.opts.name, {
      filter_subjects: this.subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
    })
    const messages = await consumer.consume()
    // Settles when the consumer ends (stopped, or given up on): the caller decides whether to follow again.
    const done = (async () => {
      for await (const m of messages) onEvent(decode(m.seq, m.headers, m.data))
    })()
    return { stop: () => void messages.close(), done }
  }

  /**
   * Events with `after` < id ≤ `through`, in order (a resuming client's catch-up); null when the
   * stream no longer holds `after + 1` (trimmed by age or size): that client needs a fresh snapshot.
   */
  async range(after: number, through: number): Promise<StreamEvent[] | null> {
    if (through <= after) return []
    const out: StreamEvent[] = []
    const consumer = await this.js.consumers.get(this.opts.name, {
      filter_subjects: this.subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    })
    try {
      while (out.length < through - after) {
        const want = Math.min(500, through - after - out.length)
        const batch = await consumer.fetch({ max_messages: want, expires: 2000 })
        let got = 0
        for await (const m of batch) {
          got++
          if (m.seq > through) break
          if (m.seq !== after + out.length + 1) return null
          out.push(decode(m.seq, m.headers, m.data))
        }
        if (got === 0) break
      }
    } finally {
      await consumer.delete().catch(() => {})
    }
    return out.length === through - after ? out : null
  }
}

function decode(seq: number, h: MsgHdrs | undefined, data: Uint8Array): StreamEvent {
  return {
    id: seq,
    type: h?.get(H_TYPE) ?? '',
    at: Number(h?.get(H_AT) ?? 0),
    through: Number(h?.get(H_THROUGH) ?? 0),
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
  }
}
