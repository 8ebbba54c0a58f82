/**
 * @module Bringing a connecting client up to date: its snapshot, then the replay after its resume
 * point a page at a time, each page only once the client has taken the previous one, then the live
 * stream. A resume from far back therefore never makes the server build or hold more than one page
 * (REPLAY_PAGE_*) per client, and reading old pages from SQLite happens in small, separate turns of
 * the event loop instead of one long read.
 */
import type { LiveClient } from './clients.ts'
import type { Frame } from './frame.ts'
import type { Hub } from './hub.ts'

export interface CatchUpClient extends LiveClient {
  /** Queues a snapshot or replay frame (never what cuts a client off: see SendBudget). */
  sendCatchUp(frame: Frame): void
  /** Bytes queued for the peer and not yet taken by it. */
  queuedBytes(): number
  /** Closed or cut off: stop sending. */
  readonly ended: boolean
}

/** A page is sent once the client's queue is below this. */
const LOW_WATER_BYTES = 64 * 1024
/** A client that takes nothing for this long while catching up is cut off (it can resume later). */
export const CATCH_UP_STALL_MS = 30_000
const CHECK_MS = 10

/** Resolves true once the client's queue is low, false when it ended or stalled. */
async function room(client: CatchUpClient, stallMs: number): Promise<boolean> {
  let queued = client.queuedBytes()
  let progressAt = Date.now()
  while (!client.ended && queued > LOW_WATER_BYTES) {
    await new Promise((r) => setTimeout(r, CHECK_MS))
    const now = client.queuedBytes()
    if (now < queued) progressAt = Date.now()
    else if (Date.now() - progressAt > stallMs) return false
    queued = now
  }
  return !client.ended
}

/**
 * Sends `conn` to a client the hub has `join`ed, and subscribes it once it is at the head.
 * `onStall` is told when it had to give up on a client that stopped reading.
 */
export async function catchUp(
  hub: Hub,
  client: CatchUpClient,
  since: number | null,
  onStall: (reason: string) => void,
  stallMs = CATCH_UP_STALL_MS
): Promise<void> {
  // In a cluster this instance may be a few ms behind the one the client was on (hub.reach).
  const behind = hub.reach(since)
  if (behind) await behind
  if (client.ended) return
  const conn = hub.open(since)
  client.sendCatchUp(conn.snapshot)
  // An admin's action sent while this screen had no connection (it was reconnecting) comes now.
  for (const f of hub.takeControls(client.principal ?? null)) client.sendCatchUp(f)
  let at = conn.resumeAfter
  while (at !== null && at < hub.head) {
    if (!(await room(client, stallMs))) {
      if (!client.ended) {
        onStall('took nothing while catching up')
        client.close(1013, 'client too slow')
      }
      return
    }
    // From SQLite (or the ring) at once; from the cluster's stream, a read to wait for.
    let page = hub.replayPage(at, client.topics)
    if (page instanceof Promise) page = await page
    if (client.ended) return
    if (!page) {
      // Trimmed while this client was catching up (hours behind): it reconnects and gets a reset.
      client.close(1013, 'resume point expired; reconnect')
      return
    }
    for (const f of page.frames) client.sendCatchUp(f)
    at = page.through
  }
  // Same turn as the check above: nothing can be published between the last page and this.
  if (!client.ended) hub.subscribe(client)
}
