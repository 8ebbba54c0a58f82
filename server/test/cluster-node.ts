/**
 * @module One cluster member for the scale-out tests, as its own process so a test can SIGKILL it:
 * the real lease, relay and stream modules over the real PostgreSQL and NATS. It follows the stream
 * from the start and prints every event it gets; on `burst <n> <tag>` (stdin) it commits n events,
 * each in its own transaction, a few at a time, printing each one's id once its COMMIT returned.
 * Output lines: `leader <bool>`, `ready`, `ack <key> <id>`, `ev <seq> <through> <type> <data>`.
 */
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import { createInterface } from 'node:readline'
import { LeaderLease } from '../cluster/lease.ts'
import { appendEvents, initEventLog } from '../cluster/event-log.ts'
import { EventRelay } from '../cluster/relay.ts'
import { LiveStream } from '../cluster/stream.ts'

const env = (k: string) => {
  const v = process.env[k]
  if (!v) throw new Error(`${k} is required`)
  return v
}

const pool = new pg.Pool({ connectionString: env('PG_URL'), max: 6 })
const nc = await connect({ servers: env('NATS_URL') })
const stream = new LiveStream(nc, { name: env('STREAM'), maxAgeMs: 3_600_000 })
await stream.ensure()
await initEventLog(pool)

const out = (line: string) => process.stdout.write(`${line}\n`)
let relay: EventRelay | null = null
const lease = new LeaderLease({
  url: env('PG_URL'),
  key: Number(env('LEASE_KEY')),
  everyMs: 200,
  onChange(leading) {
    out(`leader ${leading}`)
    if (leading) {
      relay = new EventRelay(pool, stream, (e) => out(`error relay ${e.message}`))
      void relay.start()
    } else {
      void relay?.stop()
      relay = null
    }
  },
})
lease.start()
await stream.follow(0, (ev) => out(`ev ${ev.id} ${ev.through} ${ev.type} ${ev.data}`))
out('ready')

async function commitOne(key: string): Promise<void> {
  const c = await pool.connect()
  try {
    await c.query('BEGIN')
    const [id] = await appendEvents(c, [{ type: 'test', at: Date.now(), data: JSON.stringify(key) }])
    await c.query('COMMIT')
    out(`ack ${key} ${id}`)
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {})
    out(`error commit ${key} ${(e as Error).message}`)
  } finally {
    c.release()
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, n, tag] = line.split(' ')
  if (cmd === 'burst') {
    const keys = Array.from({ length: Number(n) }, (_, i) => `${tag}-${i}`)
    // Four at a time: enough to make transactions on this node overlap with the other nodes'.
    const lanes = Array.from({ length: 4 }, async (_, lane) => {
      for (let i = lane; i < keys.length; i += 4) await commitOne(keys[i]!)
    })
    void Promise.all(lanes).then(() => out(`done ${tag}`))
  }
}
