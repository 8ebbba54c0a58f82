import { For, Show, createEffect, createMemo, createResource, createSignal, on } from 'solid-js'
import type { Build } from '../types.ts'
import { BarChart } from '../components/chart.tsx'
import { BuildTile } from '../components/build-tile.tsx'
import { NotFoundView } from '../components/not-found.tsx'
import { StatusIcon } from '../components/status-icon.tsx'
import { api } from '../lib/api.ts'
import { useLive } from '../lib/live.ts'
import { createLatest, errorText } from '../lib/resource.ts'
import { A } from '../lib/router.tsx'
import { WORD, subject, who, type Shown } from '../lib/status.ts'
import { ago, duration, parseTime } from '../lib/time.ts'
import { useView } from '../lib/view.ts'

const MAX_ROWS = 500

const SHOWN: Record<Build['status'], Shown> = {
  success: 'passing',
  failure: 'failing',
  running: 'running',
  queued: 'queued',
  canceled: 'canceled',
  skipped: 'skipped',
}

export function buildDuration(b: Build): number | null {
  if (typeof b.durationMs === 'number') return b.durationMs
  const s = parseTime(b.startedAt)
  const f = parseTime(b.finishedAt)
  return s !== null && f !== null ? Math.max(0, f - s) : null
}

/** Only http(s) links leave the dashboard: a CI-provided `javascript:` URL must not become a link. */
export function safeUrl(u: string | null | undefined): string | undefined {
  if (!u) return undefined
  try {
    const p = new URL(u)
    return p.protocol === 'http:' || p.protocol === 'https:' ? p.href : undefined
  } catch {
    return undefined
  }
}

/** The newest builds, and where older ones start: after the first page as first loaded. */
interface Recent {
  builds: Build[]
  olderFrom: string | null
}
/** Older builds, oldest last, and the cursor of the page after them. */
interface Older {
  builds: Build[]
  next: string | null
}

export default function PipelinePage(props: { params: Record<string, string> }) {
  const live = useLive()
  const view = useView()
  const id = () => props.params.id!
  const liveTile = () => live.state.pipelines?.[id()]
  // A pipeline the live board does not have (not connected yet, or gone from it): the API's, if any.
  const [apiTile] = createResource(
    () => !liveTile() && id(),
    async (pid) => (await api.pipelines()).pipelines.find((p) => p.id === pid) ?? null
  )
  const fetchedTile = createLatest(apiTile)
  const tile = () => liveTile() ?? fetchedTile() ?? null
  /** The server has no such pipeline: neither the live board nor the API knows it. */
  const missing = () => !liveTile() && apiTile.state === 'ready' && fetchedTile() === null

  // The newest builds; a refetch (the live tile changed) puts new ones on top of those already shown.
  const [recent, { refetch: refetchRecent }] = createResource(id, async (pid, { value }: { value?: Recent }) => {
    const page = await api.builds({ pipelineId: pid, limit: 50 })
    const fresh = new Set(page.builds.map((b) => b.id))
    return {
      builds: [...page.builds, ...(value?.builds ?? []).filter((b) => !fresh.has(b.id))].slice(0, MAX_ROWS),
      olderFrom: value ? value.olderFrom : page.nextCursor,
    }
  })
  // Older builds, a page per "Load older builds", each appended to those before.
  const [olderCursor, setOlderCursor] = createSignal<string | null>(null)
  const [older, { refetch: refetchOlder }] = createResource(
    olderCursor,
    async (cursor, { value }: { value?: Older }) => {
      const page = await api.builds({ pipelineId: id(), limit: 50, cursor })
      return { builds: [...(value?.builds ?? []), ...page.builds].slice(0, MAX_ROWS), next: page.nextCursor }
    }
  )
  const recentShown = createLatest(recent)
  const olderShown = createLatest(older)
  const builds = createMemo(() => {
    const first = recentShown()?.builds ?? []
    const have = new Set(first.map((b) => b.id))
    return [...first, ...(olderShown()?.builds ?? []).filter((b) => !have.has(b.id))].slice(0, MAX_ROWS)
  })
  const cursor = () => {
    if (builds().length >= MAX_ROWS) return null
    const o = olderShown()
    return o ? o.next : (recentShown()?.olderFrom ?? null)
  }
  // The same cursor again is a retry of a page that failed.
  const loadMore = () => {
    const c = cursor()
    if (c) c === olderCursor() ? void refetchOlder() : setOlderCursor(c)
  }
  const loaded = () => recent.state !== 'unresolved' && recent.state !== 'pending'
  const error = () => {
    const e = recent.error ?? older.error
    return e ? errorText(e) : null
  }
  createEffect(
    on(
      () => tile()?.updatedAt,
      () => loaded() && void refetchRecent(),
      { defer: true }
    )
  )

  const [open, setOpen] = createSignal<string | null>(null)
  const [full] = createResource(open, (bid) => api.build(bid))
  const fullShown = createLatest(full)
  /** The open build with its jobs; null while they load (or when they could not be loaded). */
  const jobs = () => {
    const b = fullShown()
    return b && b.id === open() ? b : null
  }
  const toggle = (b: Build) => setOpen(open() === b.id ? null : b.id)

  const bars = createMemo(() =>
    builds()
      .filter(
        (b) =>
          buildDuration(b) !== null && (b.status === 'success' || b.status === 'failure' || b.status === 'canceled')
      )
      .slice(0, 50)
      .reverse()
      .map((b) => ({
        v: buildDuration(b)!,
        kind: b.status,
        label: `#${b.number ?? '?'} ${WORD[SHOWN[b.status]]} in ${duration(buildDuration(b)!)}`,
      }))
  )

  return (
    <Show
      when={!missing() || tile()}
      fallback={
        <NotFoundView
          what={`No pipeline “${id()}”`}
          hint="Radiator has never received a build for it. Pipelines appear once their CI sends a webhook."
          back={{ href: '/', label: '← All pipelines' }}
        />
      }
    >
      <section class="pipeline" aria-label="Pipeline">
        <p class="crumbs">
          <A href="/">← Builds</A>
        </p>
        <Show when={tile()} fallback={<p class="empty">{loaded() ? 'Unknown pipeline.' : 'Loading…'}</p>}>
          {(t) => (
            <>
              <h1 class="page-title">
                {t().project} <span class="muted">{t().branch}</span>
                <Show when={t().pipeline && t().pipeline !== t().project}>
                  <span class="muted"> · {t().pipeline}</span>
                </Show>
              </h1>
              <div class="pipeline-top">
                <BuildTile tile={t()} now={view.now()} tv={view.prefs.tv()} />
                <dl class="facts">
                  <dt>provider</dt>
                  <dd>{t().provider}</dd>
                  <dt>median (last successes)</dt>
                  <dd>{t().medianDurationMs != null ? duration(t().medianDurationMs!) : '—'}</dd>
                  <dt>success rate (last 20)</dt>
                  <dd>{t().successRate != null ? `${Math.round(t().successRate! * 100)}%` : '—'}</dd>
                  <dt>last success</dt>
                  <dd>{t().lastSuccessAt ? ago(view.now() - parseTime(t().lastSuccessAt)!) : '—'}</dd>
                  <dt>last failure</dt>
                  <dd>{t().lastFailureAt ? ago(view.now() - parseTime(t().lastFailureAt)!) : '—'}</dd>
                </dl>
              </div>
            </>
          )}
        </Show>
        <h2>Durations</h2>
        <Show when={bars().length} fallback={<p class="muted">{loaded() ? 'No finished builds yet.' : 'Loading…'}</p>}>
          <BarChart
            bars={bars()}
            median={tile()?.medianDurationMs ?? null}
            label={`Durations of the last ${bars().length} builds, oldest first`}
            format={duration}
          />
        </Show>
        <Show when={error()}>
          <p class="error" role="alert">
            Could not load the history: {error()}
          </p>
        </Show>
        <h2>History</h2>
        <table class="history">
          <thead>
            <tr>
              <th scope="col">result</th>
              <th scope="col">build</th>
              <th scope="col">commit</th>
              <th scope="col">who</th>
              <th scope="col">started</th>
              <th scope="col">duration</th>
              <th scope="col">CI</th>
            </tr>
          </thead>
          <tbody>
            <For each={view.prefs.tv() ? builds().slice(0, 8) : builds()}>
              {(b) => (
                <>
                  <tr data-status={SHOWN[b.status]}>
                    <td class="res">
                      <StatusIcon status={SHOWN[b.status]} />
                      <span>{WORD[SHOWN[b.status]]}</span>
                    </td>
                    <td>
                      <button type="button" class="link" aria-expanded={open() === b.id} onClick={() => toggle(b)}>
                        #{b.number ?? '?'}
                        {b.attempt > 1 ? ` (attempt ${b.attempt})` : ''}
                      </button>
                    </td>
                    <td class="commit">
                      <span class="sha">{b.commit?.sha?.slice(0, 7) ?? ''}</span> {subject(b) ?? ''}
                    </td>
                    <td>{who(b) ?? ''}</td>
                    <td>{b.startedAt ? ago(view.now() - parseTime(b.startedAt)!) : b.queuedAt ? 'queued' : ''}</td>
                    <td>
                      {buildDuration(b) !== null
                        ? duration(buildDuration(b)!)
                        : b.status === 'running' && b.startedAt
                          ? `${duration(view.now() - parseTime(b.startedAt)!)}…`
                          : ''}
                    </td>
                    <td>
                      <Show when={safeUrl(b.url)}>
                        {(u) => (
                          <a href={u()} target="_blank" rel="noopener noreferrer">
                            open ↗
                          </a>
                        )}
                      </Show>
                    </td>
                  </tr>
                  <Show when={open() === b.id}>
                    <tr class="jobs">
                      <td colSpan={7}>
                        <Show
                          when={jobs()?.jobs?.length}
                          fallback={<span class="muted">{jobs() ? 'No jobs reported.' : 'Loading jobs…'}</span>}
                        >
                          <ul>
                            <For each={jobs()!.jobs}>
                              {(j) => (
                                <li>
                                  <StatusIcon status={SHOWN[j.status]} /> {j.name}{' '}
                                  <span class="muted">
                                    {WORD[SHOWN[j.status]]}
                                    {j.startedAt && j.finishedAt
                                      ? ` in ${duration(parseTime(j.finishedAt)! - parseTime(j.startedAt)!)}`
                                      : ''}
                                  </span>{' '}
                                  <Show when={safeUrl(j.url)}>
                                    {(u) => (
                                      <a href={u()} target="_blank" rel="noopener noreferrer">
                                        log ↗
                                      </a>
                                    )}
                                  </Show>
                                </li>
                              )}
                            </For>
                          </ul>
                        </Show>
                      </td>
                    </tr>
                  </Show>
                </>
              )}
            </For>
          </tbody>
        </table>
        <Show when={cursor()}>
          <button type="button" onClick={loadMore}>
            Load older builds
          </button>
        </Show>
      </section>
    </Show>
  )
}
