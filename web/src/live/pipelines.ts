/**
 * @module The board's pipelines: one tile per pipeline and branch. The snapshot brings every tile;
 * `build.updated` and `build.finished` each bring the one tile they changed. As many tiles as the
 * server's board has: it decides which exist.
 */
import { createStore, reconcile } from 'solid-js/store'
import type { Build, PipelineTile } from '../types.ts'

export function createPipelines() {
  /** `tiles` is null while the CI capability has said nothing (absent from the snapshot). */
  const [state, setState] = createStore<{ tiles: Record<string, PipelineTile> | null }>({ tiles: null })
  return {
    get tiles() {
      return state.tiles
    },
    snapshot(tiles: PipelineTile[] | undefined) {
      if (!tiles) return setState('tiles', null)
      const map: Record<string, PipelineTile> = {}
      for (const t of tiles) map[t.id] = t
      setState('tiles', state.tiles ? reconcile(map) : map)
    },
    /** A build event's tile replaces ours, or joins the board. */
    put(tile: PipelineTile) {
      if (!state.tiles) setState('tiles', {})
      setState('tiles', tile.id, reconcile(tile))
    },
    /** The tile a build belongs to (a build from the API names its pipeline, not its tile). */
    tileOf(b: Pick<Build, 'provider' | 'project' | 'pipeline' | 'branch'>): PipelineTile | undefined {
      return Object.values(state.tiles ?? {}).find(
        (t) =>
          t &&
          t.provider === b.provider &&
          t.project === b.project &&
          t.pipeline === b.pipeline &&
          t.branch === b.branch
      )
    },
  }
}

export type Pipelines = ReturnType<typeof createPipelines>
