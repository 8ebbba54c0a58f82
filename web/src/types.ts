/**
 * @module Every shape the dashboard reads from the server, from the contract's zod schemas
 * (`import type` only: nothing of zod is bundled), so a contract change fails type-checking here.
 */
export type {
  Build,
  BuildsPage,
  BuildStatus,
  Job,
  PipelineTile,
  ProviderName,
  Transition,
} from '../../contract/builds.ts'
export type {
  CustomMetricPoint as Metric,
  Device,
  Rating,
  SiteEntry as SiteRow,
  Summary as SiteSummary,
  SummaryWindow as SiteWindow,
  VisitorsEvent,
  VitalName,
  VitalSummary,
} from '../../contract/metrics.ts'
export type {
  BuildFinishedData as BuildFinishedEvent,
  BuildUpdatedData as BuildUpdatedEvent,
} from '../../contract/live.ts'
