import { For, Match, Show, Switch, createMemo } from 'solid-js'
import type { PipelineTile } from '../types.ts'
import { BuildTile } from '../components/build-tile.tsx'
import { PagedGrid } from '../components/paged-grid.tsx'
import { WallBoard } from '../components/wall-board.tsx'
import { StatusIcon } from '../components/status-icon.tsx'
import { useLive } from '../lib/live.ts'
import { search, setSearch } from '../lib/router.tsx'
import { compareTiles, inScope, matches, shown, shownBuild, who, type BoardFilter, type Shown } from '../lib/status.ts'
import { ago, parseTime } from '../lib/time.ts'
import { useView } from '../lib/view.ts'

const FILTERS = ['project', 'branch', 'provider', 'status'] as const
type FilterName = (typeof FILTERS)[number]
const STATUS_OPTIONS: Shown[] = ['failing', 'running', 'queued', 'silent', 'canceled', 'passing']

const values = (p: URLSearchParams, k: FilterName) =>
  (p.get(k) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

function fieldOf(t: PipelineTile, k: Exclude<FilterName, 'status'>): string {
  return k === 'project' ? t.project : k === 'branch' ? t.branch : t.provider
}

/** All pipeline tiles (sorted: broken first, default branches first), for the board and the TV. */
export function useTiles() {
  const live = useLive()
  return createMemo(() => {
    const map = live.state.pipelines
    if (!map) return null
    return Object.values(map)
      .filter((t): t is PipelineTile => !!t && typeof t.id === 'string')
      .sort(compareTiles)
  })
}

export const filterOf = (p: URLSearchParams): BoardFilter =>
  Object.fromEntries(FILTERS.map((k) => [k, values(p, k)])) as Record<FilterName, string[]>

/** The tiles in the URL's project / branch / provider scope (not narrowed by status); null without CI. */
export function useScopedTiles() {
  const all = useTiles()
  return createMemo(() => {
    const f = filterOf(search())
    const list = all()
    if (!list) return null
    return list.filter((t) => inScope(t, f))
  })
}

/** The tiles the board shows: every filter applied, status included; null without CI. */
export function useShownTiles(now: () => number) {
  const scoped = useScopedTiles()
  return createMemo(() => {
    const f = filterOf(search())
    const list = scoped()
    if (!list) return null
    return f.status.length ? list.filter((t) => matches(t, f, now())) : list
  })
}

/**
 * One filter of the form. The URL may hold several values (`?status=failing,running`, an OR) or
 * one no pipeline has now: that gets an entry of its own, so the form never shows a narrower or
 * different filter than the board applies.
 */
function FilterSelect(props: { name: FilterName; values: string[]; options: readonly string[] }) {
  const other = () =>
    props.values.length > 1 || (props.values.length === 1 && !props.options.includes(props.values[0]!))
  return (
    <label>
      <span>{props.name}</span>
      <select
        onChange={(e) => setSearch({ [props.name]: e.currentTarget.value || null })}
        data-testid={`filter-${props.name}`}
      >
        <option value="" selected={!props.values.length}>
          all
        </option>
        <Show when={other()}>
          <option value={props.values.join(',')} selected>
            {props.values.join(' or ')}
          </option>
        </Show>
        <For each={props.options}>
          {(v) => (
            <option value={v} selected={!other() && props.values[0] === v}>
              {v}
            </option>
          )}
        </For>
      </select>
    </label>
  )
}

export default function Board() {
  const live = useLive()
  const view = useView()
  const all = useTiles()
  const tv = () => view.prefs.tv()

  const filter = createMemo(() => filterOf(search()))
  const scopedOrNull = useScopedTiles()
  const scoped = () => scopedOrNull() ?? []
  const shownOrNull = useShownTiles(view.now)
  const tiles = () => shownOrNull() ?? []
  const allGreen = createMemo(() => scoped().length > 0 && scoped().every((t) => shown(t, view.now()) === 'passing'))
  const options = (k: Exclude<FilterName, 'status'>) =>
    [...new Set((all() ?? []).map((t) => fieldOf(t, k)))].sort((a, b) => a.localeCompare(b))
  const filtered = () => FILTERS.some((k) => filter()[k].length)

  return (
    <section class="board" aria-label="Builds">
      <Show when={!tv()}>
        <form class="filters" aria-label="Filter pipelines" onSubmit={(e) => e.preventDefault()}>
          <For each={['project', 'branch', 'provider'] as const}>
            {(k) => <FilterSelect name={k} values={filter()[k]} options={options(k)} />}
          </For>
          <FilterSelect name="status" values={filter().status} options={STATUS_OPTIONS} />
          <Show when={filtered()}>
            <button
              type="button"
              onClick={() => setSearch({ project: null, branch: null, provider: null, status: null })}
            >
              clear filters
            </button>
          </Show>
        </form>
      </Show>
      <Switch>
        <Match when={!live.version()}>
          <p class="empty">Connecting…</p>
        </Match>
        <Match when={all() === null}>
          <div class="empty" data-testid="empty">
            <p>No CI data: this server has not enabled the CI capability.</p>
          </div>
        </Match>
        <Match when={all()!.length === 0}>
          <div class="empty" data-testid="empty">
            <p>No pipelines yet.</p>
            <p class="muted">
              Point a CI webhook at <code>{location.origin}/hooks/&lt;provider&gt;</code>, or send a build to{' '}
              <code>/hooks/generic</code>.
            </p>
          </div>
        </Match>
        <Match when={allGreen()}>
          <AllGreen tiles={scoped()} />
        </Match>
        <Match when={tiles().length === 0}>
          <div class="empty" data-testid="empty">
            <p>No pipeline matches these filters.</p>
          </div>
        </Match>
        <Match when={tv()}>
          <WallBoard tiles={tiles()} now={view.frozenNow()} />
        </Match>
        <Match when={true}>
          <PagedGrid items={tiles()} class="tiles" label="Pipelines">
            {(t) => <BuildTile tile={t} now={view.frozenNow()} />}
          </PagedGrid>
        </Match>
      </Switch>
    </section>
  )
}

/** Everything passes: a calm screen instead of a wall of green. */
function AllGreen(props: { tiles: PipelineTile[] }) {
  const view = useView()
  const newest = createMemo(() => {
    let best: PipelineTile | null = null
    let at = -Infinity
    for (const t of props.tiles) {
      const b = shownBuild(t)
      const ts = parseTime(b?.finishedAt ?? b?.updatedAt) ?? -Infinity
      if (ts > at) {
        at = ts
        best = t
      }
    }
    return best ? { t: best, at } : null
  })
  return (
    <div class="all-green" data-testid="all-green" role="status">
      <StatusIcon status="passing" class="big" />
      <p class="headline">
        {props.tiles.length === 1
          ? 'The pipeline is passing'
          : props.tiles.length === 2
            ? 'Both pipelines passing'
            : `All ${props.tiles.length} pipelines passing`}
      </p>
      <Show when={newest()}>
        {(n) => (
          <p class="muted">
            Latest: {n().t.project} {n().t.branch}
            {shownBuild(n().t)?.number != null ? ` #${shownBuild(n().t)!.number}` : ''}
            {who(shownBuild(n().t)) ? ` by ${who(shownBuild(n().t))}` : ''}
            {Number.isFinite(n().at) ? `, ${ago(view.now() - n().at)}` : ''}
          </p>
        )}
      </Show>
      <Show when={!view.prefs.tv()}>
        <PagedGrid items={props.tiles} class="tiles compact" label="Pipelines">
          {(t) => <BuildTile tile={t} now={view.now()} />}
        </PagedGrid>
      </Show>
    </div>
  )
}
