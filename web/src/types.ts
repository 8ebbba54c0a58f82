/**
 * @module The contract's build, site and metric types under the names the views use: `import type`
 * only (no zod is bundled), so a contract change fails the type-check here. The live wire's types come
 * from contract/live.ts (lib/connection.ts, lib/live.ts) and sign-in's from contract/access.ts
 * (access/session.ts). The admin pages' answers (screens, tokens, a pairing request) are not in the
 * contract yet: access/admin.tsx and access/approve.tsx describe them.
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
