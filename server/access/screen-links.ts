/**
 * @module Reaching a screen's live connection, on whichever instance it is open. Alone, the hub is
 * asked directly. In a cluster an admin's action on one instance is announced (topic `screens`): the
 * instances holding a connection of that screen send it and say so; when none answers within
 * GATHER_MS the action is held on every instance for the screen's next connection (a long-polling
 * screen between two polls, a screen reconnecting). The admin's list of screens gathers each
 * instance's connections the same way.
 *
 * Held everywhere, an action can reach a screen twice when its next connections land on two instances
 * within the hold (60 s, live/control.ts): a reload or an identify shown again, never a wrong view.
 * Dropping a held action everywhere once taken needs the hub to name held actions (left to live/).
 */
import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { TRANSPORTS } from '../../contract/vocabularies.ts'
import type { Bus } from '../cluster/bus.ts'
import type { ClientMeta, Hub } from '../live/hub.ts'

/** How long answers from the other instances are waited for (they answer within a bus round trip). */
export const GATHER_MS = 150

const meta = z.object({
  transport: z.enum(TRANSPORTS),
  version: z.string().max(100),
  connectedAt: z.number(),
  address: z.string().max(100),
  userAgent: z.string().max(300).nullable(),
})
const message = z.discriminatedUnion('op', [
  z.object({ op: z.literal('control'), id: z.string(), session: z.string(), data: z.record(z.string(), z.unknown()) }),
  z.object({ op: z.literal('reached'), id: z.string(), n: z.number() }),
  z.object({ op: z.literal('hold'), session: z.string(), data: z.record(z.string(), z.unknown()) }),
  z.object({ op: z.literal('ask'), id: z.string(), sessions: z.array(z.string()).max(10_000) }),
  z.object({ op: z.literal('connections'), id: z.string(), of: z.record(z.string(), z.array(meta)) }),
])
type Message = z.infer<typeof message>

export interface ScreenLinks {
  /** Sends a control message to a screen's connections; how many it reached (0: held for its next one). */
  control(session: string, data: Record<string, unknown>): Promise<number>
  /** The open live connections of each of these screen sessions. */
  connections(sessions: string[]): Promise<Map<string, ClientMeta[]>>
  close(): void
}

/** One instance: the hub knows every connection. */
export function localLinks(hub: Hub): ScreenLinks {
  return {
    control: async (session, data) => hub.control(session, data),
    connections: async (sessions) => new Map(sessions.map((s) => [s, hub.connectionsOf(s)])),
    close() {},
  }
}

/** A cluster: every instance's hub, over the bus. */
export function clusterLinks(hub: Hub, bus: Bus, gatherMs = GATHER_MS): ScreenLinks {
  const gathering = new Map<string, (m: Message) => void>()
  const unlisten = bus.listen('screens', (data, from) => {
    const parsed = message.safeParse(data)
    if (!parsed.success) return
    const m = parsed.data
    if (m.op === 'control') {
      // Only where the screen is connected: holding is decided by the asker once nobody reached it.
      const n = hub.connectionsOf(m.session).length ? hub.control(m.session, m.data) : 0
      if (n) bus.announce('screens', { op: 'reached', id: m.id, n })
    } else if (m.op === 'hold') {
      // The asker held it itself before answering (below).
      if (from !== bus.instance) hub.control(m.session, m.data)
    } else if (m.op === 'ask') {
      const of: Record<string, ClientMeta[]> = {}
      for (const s of m.sessions) {
        const c = hub.connectionsOf(s)
        if (c.length) of[s] = c
      }
      if (Object.keys(of).length) bus.announce('screens', { op: 'connections', id: m.id, of })
    } else gathering.get(m.id)?.(m)
  })

  /** Announces `ask` and hands every answer to `take` for GATHER_MS. */
  async function gather(ask: (id: string) => Message, take: (m: Message) => void): Promise<void> {
    const id = randomUUID()
    gathering.set(id, take)
    bus.announce('screens', ask(id))
    await new Promise((r) => setTimeout(r, gatherMs))
    gathering.delete(id)
  }

  return {
    async control(session, data) {
      let reached = 0
      await gather(
        (id) => ({ op: 'control', id, session, data }),
        (m) => {
          if (m.op === 'reached') reached += m.n
        }
      )
      if (reached === 0) {
        // Held here at once, so the screen's next request to this instance (often the next thing
        // that happens) gets it; the others hold it when the announcement arrives.
        hub.control(session, data)
        bus.announce('screens', { op: 'hold', session, data })
      }
      return reached
    },
    async connections(sessions) {
      const out = new Map<string, ClientMeta[]>(sessions.map((s) => [s, []]))
      await gather(
        (id) => ({ op: 'ask', id, sessions }),
        (m) => {
          if (m.op === 'connections') for (const [s, c] of Object.entries(m.of)) out.get(s)?.push(...c)
        }
      )
      return out
    },
    close: unlisten,
  }
}
