/** @module Builds and tiles for the live domains' tests: a passing pipeline unless told otherwise. */
import type { Build, PipelineTile } from '../types.ts'

export function build(over: Partial<Build> = {}): Build {
  return {
    id: 'generic:1',
    provider: 'generic',
    project: 'acme/shop',
    pipeline: 'deploy',
    branch: 'main',
    tag: null,
    pullRequest: null,
    number: 1,
    attempt: 1,
    status: 'success',
    commit: { sha: null, subject: null, author: null },
    actor: null,
    url: null,
    trigger: null,
    queuedAt: null,
    startedAt: '2030-01-01T11:55:00.000Z',
    finishedAt: '2030-01-01T12:00:00.000Z',
    durationMs: 300_000,
    updatedAt: '2030-01-01T12:00:00.000Z',
    ...over,
  }
}

export function tile(over: Partial<PipelineTile> = {}): PipelineTile {
  const { project = 'acme/shop', pipeline = 'deploy', branch = 'main' } = over
  const latest =
    over.latest === undefined ? build({ id: `generic:${project}:${branch}`, project, pipeline, branch }) : over.latest
  return {
    id: `${project}:${pipeline}:${branch}`,
    provider: 'generic',
    project,
    pipeline,
    branch,
    isDefaultBranch: true,
    latest,
    running: null,
    lastSuccessAt: latest?.finishedAt ?? null,
    lastFailureAt: null,
    brokenSince: null,
    brokenBy: null,
    fixedBy: null,
    medianDurationMs: 300_000,
    successRate: 1,
    recent: ['success'],
    updatedAt: latest?.updatedAt ?? '2030-01-01T12:00:00.000Z',
    ...over,
  }
}
