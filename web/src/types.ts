/**
 * @module Every shape the dashboard reads from the server, from the server's own zod schemas
 * (`import type` only: nothing from server/ is bundled), so a contract change fails type-checking.
 */
export type {
  Build,
  BuildStatus,
  Job,
  PipelineTile,
  ProviderName,
  Transition,
} from '../../server/ci/model.ts'
import type { Build, PipelineTile, Transition } from '../../server/ci/model.ts'

export type {
  Device,
  Rating,
  SiteEntry as SiteRow,
  Summary as SiteSummary,
  SummaryWindow as SiteWindow,
  VitalName,
  VitalSummary,
  CustomMetricPoint as Metric,
} from '../../server/metrics/wire.ts'
import type { VitalName } from '../../server/metrics/wire.ts'

export const VITALS: readonly VitalName[] = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB']

export interface VisitorsEvent {
  site: string
  live: number
  last5m: number
}

export interface BuildUpdatedEvent {
  build: Build
  pipeline: PipelineTile
}

export interface BuildFinishedEvent {
  build: Build
  transition: Transition
  pipeline: PipelineTile
}

export interface BuildsPage {
  builds: Build[]
  nextCursor: string | null
}
