import { For, Show, createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js'
import type { Build, PipelineTile } from '../types.ts'
import { BarChart } from '../components/chart.tsx'
import { BuildTile } from '../components/build-tile.tsx'
import { NotFoundView } from '../components/not-found.tsx'
import { StatusIcon } from '../components/status-icon.tsx'
import { api } from '../lib/api.ts'
import { useLive } from '../lib/live.ts'
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

export default function PipelinePage(props: { params: Record<string, string> }) {
  const live = useLive()
  const view = useView()
  const id = () => props.params.id!
  const [fetchedTile, setFetchedTile] = createSignal<PipelineTile | null>(null)
  const tile = () => live.state.pipelines?.[id()] ?? fetchedTile()
  const [builds, setBuilds] = createSignal<Build[]>([])
  const [cursor, setCursor] = createSignal<string | null>(null)
  const [error, setError] = createSignal<string | null>(null)
  const [loaded, setLoaded] = createSignal(false)
  const [open, setOpen] = createSignal<string | null>(null)
  const [jobs, setJobs] = createSignal<Build | null>(null)
  /** The server has no such pipeline: neither the live board nor the API knows it. */
  const [missing, setMissing] = createSignal(false)
  let disposed = false
  onCleanup(() => (disposed = true))

  async function loadFirst() {
    try {
      const page = await api.builds({ pipelineId: id(), limit: 50 })
      if (disposed) return
      setBuilds((prev) => {
        const fresh = new Set(page.builds.map((b) => b.id))
        return [...page.builds, ...prev.filter((b) => !fresh.has(b.id))].slice(0, MAX_ROWS)
      })
      if (!loaded()) setCursor(page.nextCursor)
      setError(null)
    } catch (e) {
      if (!disposed) setError(e instanceof Error ? e.message : String(e))
    } finally {
      if (!disposed) setLoaded(true)
    }
  }

  async function loadMore() {
    const c = cursor()
    if (!c) return
    try {
      const page = await api.builds({ pipelineId: id(), limit: 50, cursor: c })
      if (disposed) return
      setBuilds((prev) => {
        const have = new Set(prev.map((b) => b.id))
        return [...prev, ...page.builds.filter((b) => !have.has(b.id))].slice(0, MAX_ROWS)
      })
      setCursor(builds().length >= MAX_ROWS ? null : page.nextCursor)
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e))
    }
  }

  // First load, and again whenever the live tile changes (a build started or finished).
  createEffect(
    on(id, () => {
      setBuilds([])
      setLoaded(false)
      void loadFirst()
    })
  )
  createEffect(
    on(
      () => tile()?.updatedAt,
      () => loaded() && void loadFirst(),
      { defer: true }
    )
  )
  createEffect(
    on(
      () => [id(), !!live.state.pipelines?.[id()]] as const,
      ([pid, known]) => {
        if (known) return setMissing(false)
        api
          .pipelines()
          .then((r) => {
            if (disposed) return
            const t = r.pipelines.find((p) => p.id === pid) ?? null
            setFetchedTile(t)
            setMissing(!t)
          })
          .catch(() => {})
      }
    )
  )

  async function toggle(b: Build) {
    if (open() === b.id) return setOpen(null)
    setOpen(b.id)
    setJobs(null)
    try {
      const full = await api.build(b.id)
      if (!disposed && open() === b.id) setJobs(full)
    } catch {
      /* the row stays open with what the list had */
    }
  }

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
