/** @module The one fetch wrapper: JSON in, typed JSON out, a timeout, and one error type. */
import type { Build, BuildsPage, Metric, PipelineTile, SiteRow, SiteSummary } from '../types.ts'

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

export async function fetchAPI<T>(path: string, init: RequestInit = {}, timeoutMs = 15_000): Promise<T> {
  const signal = init.signal ?? AbortSignal.timeout(timeoutMs)
  let res: Response
  try {
    res = await fetch(path, { ...init, signal, headers: { accept: 'application/json', ...init.headers } })
  } catch (e) {
    throw new ApiError(0, e instanceof Error ? e.message : 'network error')
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try {
      const body = (await res.json()) as { message?: string }
      if (body?.message) message = body.message
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(res.status, message)
  }
  return (await res.json()) as T
}

const q = (params: Record<string, string | number | null | undefined>) => {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v))
  const s = u.toString()
  return s ? `?${s}` : ''
}

export const api = {
  pipelines: () => fetchAPI<{ pipelines: PipelineTile[] }>('/api/pipelines'),
  builds: (p: {
    pipelineId?: string
    project?: string
    pipeline?: string | null
    branch?: string | null
    status?: string
    limit?: number
    cursor?: string | null
  }) => fetchAPI<BuildsPage>(`/api/builds${q(p)}`),
  build: (id: string) => fetchAPI<Build>(`/api/builds/${encodeURIComponent(id)}`),
  sites: () => fetchAPI<{ sites: SiteRow[] }>('/api/sites'),
  siteSummary: (site: string, p: { window?: string; device?: string | null }) =>
    fetchAPI<SiteSummary>(`/api/sites/${encodeURIComponent(site)}/summary${q(p)}`),
  /** A custom metric's points of the last hour. */
  metricHour: (name: string) =>
    fetchAPI<{ points: Metric[] }>(`/api/metrics?name=${encodeURIComponent(name)}&window=1h`),
}
