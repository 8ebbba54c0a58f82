/**
 * @module The `pipelines` snapshot on PostgreSQL. A snapshot provider is synchronous (the hub builds
 * a connecting screen's first frame without waiting), and on PostgreSQL no read is: so each instance
 * keeps every tile in memory, loaded once and then replaced by the tile each build event carries
 * (build.updated / build.finished, in the stream's order, whichever instance committed them). The
 * event's tile is the one its transaction computed while holding the tile's row lock (pg-steps.ts),
 * so the newest event of a tile carries the tile as its COMMIT left it.
 *
 * Where it can differ from the SQLite snapshot, which reads the tiles afresh:
 * - A build moved to another tile (renamed) is announced with its new tile only: the old tile keeps
 *   showing it here until that tile's next event, as it does on every open screen. A tile left
 *   without builds, which the store deletes, stays until the next load.
 * - A running build with no news for RUNNING_STALE_MS stops being shown as running, as on SQLite;
 *   SQLite would then show an older running build of the same tile that had news, if one exists.
 */
import type pg from 'pg'
import type { PipelineTile } from '../../contract/builds.ts'
import type { BuildUpdatedData } from '../../contract/live.ts'
import { runAsync } from '../db/steps.ts'
import { pgBoardSteps } from './pg-steps.ts'
import { BuildLogic, NO_TILE_CACHE, RUNNING_STALE_MS } from './store.ts'

/** At most this many tiles, newest first, as the SQLite snapshot reads them (CiSteps.tiles). */
const MAX_TILES = 1000

export class TileView {
  /** By id; a tile replaced keeps its place, so equal `updatedAt`s keep one order between reads. */
  private byId = new Map<string, PipelineTile>()
  /** The answer of `tiles()` while nothing changed and no running build turned stale. */
  private list: { tiles: PipelineTile[]; until: number } | null = null

  /** Reads every tile, inside the caller's transaction (its snapshot is the point events apply after). */
  async load(tx: pg.ClientBase, now = Date.now()): Promise<void> {
    const tiles = await runAsync(new BuildLogic(await pgBoardSteps(tx, now), NO_TILE_CACHE).tiles(now))
    this.byId = new Map(tiles.map((t) => [t.id, t]))
    this.list = null
  }

  /** Takes the tile a build event carries; other events are not about tiles. */
  apply(ev: { type: string; data: unknown }): void {
    if (ev.type !== 'build.updated' && ev.type !== 'build.finished') return
    const tile = (ev.data as BuildUpdatedData).pipeline
    this.byId.set(tile.id, tile)
    this.list = null
  }

  /** Every tile, newest first, as the SQLite snapshot orders them. The same array while unchanged: never mutate it. */
  tiles(now = Date.now()): PipelineTile[] {
    if (this.list && now < this.list.until) return this.list.tiles
    let until = Infinity
    const out: PipelineTile[] = []
    for (const t of this.byId.values()) {
      const stale = t.running ? Date.parse(t.running.updatedAt) + RUNNING_STALE_MS : Infinity
      if (stale <= now) out.push({ ...t, running: null })
      else {
        out.push(t)
        until = Math.min(until, stale)
      }
    }
    // Stable: tiles updated in the same millisecond keep their order.
    out.sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt))
    if (out.length > MAX_TILES) out.length = MAX_TILES
    this.list = { tiles: out, until }
    return out
  }
}
