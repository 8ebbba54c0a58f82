/**
 * @module Webhook deliveries for the demo, generated in each provider's real shape (the fields the
 * normalizers in server/ci/providers read, plus the usual surroundings) and signed the way the
 * provider signs them. One small generator per provider: a build's current state → the deliveries
 * that provider sends for it (several for a start, e.g. GitHub's `requested` then `in_progress`),
 * signed by the test kit's signers (server/test/sign). Self-contained: nothing here reads ../shared.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { ProviderName } from '../contract/builds.ts'
import { SIGNERS } from '../server/test/sign/index.ts'

/** What the demo plays: `running` sends the provider's start deliveries, the others its finish. */
export type DemoStatus = 'running' | 'success' | 'failure'

export interface Person {
  name: string
  login: string
  email: string
}

/** One board tile: project, pipeline and branch exactly as the normalizer will name them. */
export interface DemoPipeline {
  provider: ProviderName
  project: string
  pipeline: string
  branch: string
  /** How long its builds usually take (ms): history and live builds stay close to it. */
  typicalMs: number
}

export interface DemoBuild {
  pipe: DemoPipeline
  /** Numeric build id, unique in the run (run id, pipeline id, build id…). */
  id: number
  /** For providers whose build ids are UUIDs (Buildkite builds, CircleCI workflows). */
  uuid: string
  number: number
  sha: string
  subject: string
  author: Person
  status: DemoStatus
  queuedAt: number
  startedAt: number
  finishedAt: number | null
  /** Deliveries sent for this build so far (Drone's `version` counter). */
  sent: number
}

export interface Unsigned {
  provider: ProviderName
  /** The raw body: what is signed and sent, byte for byte. */
  raw: Buffer
  headers: Record<string, string>
}

export const newSha = () => randomBytes(20).toString('hex')
const iso = (ms: number) => new Date(ms).toISOString()
/** GitLab's "2016-08-12 15:23:28 UTC". */
const gitlabTime = (ms: number) => `${iso(ms).slice(0, 19).replace('T', ' ')} UTC`
const unix = (ms: number) => Math.floor(ms / 1000)
const json = (provider: ProviderName, body: unknown, headers: Record<string, string>): Unsigned => ({
  provider,
  raw: Buffer.from(JSON.stringify(body)),
  headers,
})
const finished = (b: DemoBuild) => b.finishedAt ?? b.startedAt + b.pipe.typicalMs
const terminal = (b: DemoBuild) => b.status !== 'running'

/** `acme/web` → [`acme`, `web`]. */
function splitProject(project: string): [string, string] {
  const i = project.indexOf('/')
  return i === -1 ? ['acme', project] : [project.slice(0, i), project.slice(i + 1)]
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions and Gitea: `workflow_run` requested → in_progress → completed

function workflowRun(
  b: DemoBuild,
  host: string,
  action: string,
  status: string,
  conclusion: string | null,
  at: number
) {
  const { project, pipeline, branch } = b.pipe
  const [org, name] = splitProject(project)
  const user = {
    login: b.author.login,
    id: 1000 + b.author.login.length,
    type: 'User',
    html_url: `${host}/${b.author.login}`,
  }
  const api = host === 'https://github.com' ? 'https://api.github.com' : `${host}/api/v1`
  const repo = {
    id: 7000 + name.length,
    name,
    full_name: project,
    private: true,
    owner: { login: org, id: 900, type: 'Organization' },
    html_url: `${host}/${project}`,
    url: `${api}/repos/${project}`,
    default_branch: 'main',
  }
  const workflowId = 5000 + pipeline.length
  return {
    action,
    workflow_run: {
      id: b.id,
      name: pipeline,
      node_id: `WFR_${Buffer.from(String(b.id)).toString('base64')}`,
      head_branch: branch,
      head_sha: b.sha,
      path: '.github/workflows/ci.yml',
      display_title: b.subject,
      run_number: b.number,
      event: 'push',
      status,
      conclusion,
      workflow_id: workflowId,
      check_suite_id: b.id + 1,
      url: `${api}/repos/${project}/actions/runs/${b.id}`,
      html_url: `${host}/${project}/actions/runs/${b.id}`,
      pull_requests: [],
      created_at: iso(b.queuedAt),
      updated_at: iso(at),
      actor: user,
      run_attempt: 1,
      referenced_workflows: [],
      run_started_at: iso(b.startedAt),
      triggering_actor: user,
      jobs_url: `${api}/repos/${project}/actions/runs/${b.id}/jobs`,
      logs_url: `${api}/repos/${project}/actions/runs/${b.id}/logs`,
      previous_attempt_url: null,
      head_commit: {
        id: b.sha,
        tree_id: b.sha.split('').reverse().join(''),
        message: `${b.subject}\n\nSigned-off-by: ${b.author.name} <${b.author.email}>`,
        timestamp: iso(b.queuedAt - 45_000),
        author: { name: b.author.name, email: b.author.email },
        committer: { name: b.author.name, email: b.author.email },
      },
      repository: repo,
      head_repository: repo,
    },
    workflow: {
      id: workflowId,
      name: pipeline,
      path: '.github/workflows/ci.yml',
      state: 'active',
      created_at: '2023-03-01T09:00:00.000Z',
      updated_at: '2024-11-12T14:30:00.000Z',
      html_url: `${host}/${project}/blob/main/.github/workflows/ci.yml`,
    },
    repository: repo,
    sender: user,
  }
}

/** The run's state changes as GitHub reports them for this build's status. */
function actionsPhases(b: DemoBuild): [action: string, status: string, conclusion: string | null, at: number][] {
  if (!terminal(b))
    return [
      ['requested', 'queued', null, b.queuedAt],
      ['in_progress', 'in_progress', null, b.startedAt],
    ]
  return [['completed', 'completed', b.status === 'success' ? 'success' : 'failure', finished(b)]]
}

export function github(b: DemoBuild): Unsigned[] {
  return actionsPhases(b).map(([action, status, conclusion, at]) =>
    json('github', workflowRun(b, 'https://github.com', action, status, conclusion, at), {
      'Content-Type': 'application/json',
      'User-Agent': 'GitHub-Hookshot/9d6c5f2',
      'X-GitHub-Delivery': randomUUID(),
      'X-GitHub-Event': 'workflow_run',
      'X-GitHub-Hook-ID': '482901337',
      'X-GitHub-Hook-Installation-Target-ID': '7001',
      'X-GitHub-Hook-Installation-Target-Type': 'repository',
    })
  )
}

export function gitea(b: DemoBuild): Unsigned[] {
  return actionsPhases(b).map(([action, status, conclusion, at]) => {
    const id = randomUUID()
    return json('gitea', workflowRun(b, 'https://gitea.acme.test', action, status, conclusion, at), {
      'Content-Type': 'application/json',
      'User-Agent': 'Go-http-client/1.1',
      'X-Gitea-Event': 'workflow_run',
      'X-Gitea-Event-Type': 'workflow_run',
      'X-Gitea-Delivery': id,
      'X-GitHub-Event': 'workflow_run',
      'X-GitHub-Event-Type': 'workflow_run',
      'X-GitHub-Delivery': id,
      'X-Gogs-Event': 'workflow_run',
      'X-Gogs-Delivery': id,
    })
  })
}

// ---------------------------------------------------------------------------------------------
// GitLab: Pipeline Hook pending → running → success/failed

export function gitlab(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const [org, name] = splitProject(project)
  const webUrl = `https://gitlab.acme.test/${project}`
  const user = {
    id: 40 + b.author.login.length,
    name: b.author.name,
    username: b.author.login,
    avatar_url: null,
    email: '[REDACTED]',
  }
  const end = finished(b)
  const body = (status: string) => {
    const done = status === 'success' || status === 'failed'
    const span = end - b.startedAt
    // Jobs: compile (build stage), then unit and lint (test stage) side by side.
    const jobs = [
      { k: 0, stage: 'build', name: 'compile', from: 0, to: 0.4 },
      { k: 1, stage: 'test', name: 'unit', from: 0.4, to: 1 },
      { k: 2, stage: 'test', name: 'lint', from: 0.4, to: 0.7 },
    ].map((j) => {
      let st: string
      if (done) st = status === 'failed' && j.name === 'unit' ? 'failed' : 'success'
      else if (status === 'running') st = j.k === 0 ? 'running' : 'created'
      else st = j.k === 0 ? 'pending' : 'created'
      const started = st === 'created' || st === 'pending' ? null : b.startedAt + Math.round(span * j.from)
      const stopped = done ? b.startedAt + Math.round(span * j.to) : null
      return {
        id: b.id * 10 + j.k,
        stage: j.stage,
        name: j.name,
        status: st,
        created_at: gitlabTime(b.queuedAt),
        started_at: started === null ? null : gitlabTime(started),
        finished_at: stopped === null ? null : gitlabTime(stopped),
        duration: started !== null && stopped !== null ? (stopped - started) / 1000 : null,
        queued_duration: started !== null ? (started - b.queuedAt) / 1000 : null,
        failure_reason: st === 'failed' ? 'script_failure' : null,
        when: 'on_success',
        manual: false,
        allow_failure: false,
        user,
        runner:
          started === null
            ? null
            : {
                id: 12,
                description: 'shared-runner-2',
                runner_type: 'instance_type',
                active: true,
                is_shared: true,
                tags: ['docker'],
              },
        artifacts_file: { filename: null, size: null },
        environment: null,
      }
    })
    return {
      object_kind: 'pipeline',
      object_attributes: {
        id: b.id,
        iid: b.number,
        name: pipeline,
        ref: branch,
        tag: false,
        sha: b.sha,
        before_sha: '0000000000000000000000000000000000000000',
        source: 'push',
        status,
        detailed_status: status === 'success' ? 'passed' : status,
        stages: ['build', 'test'],
        created_at: gitlabTime(b.queuedAt),
        finished_at: done ? gitlabTime(end) : null,
        duration: done ? Math.round((end - b.startedAt) / 1000) : null,
        queued_duration: status === 'pending' ? null : Math.round((b.startedAt - b.queuedAt) / 1000),
        variables: [],
        url: `${webUrl}/-/pipelines/${b.id}`,
      },
      merge_request: null,
      user,
      project: {
        id: 300 + name.length,
        name,
        description: null,
        web_url: webUrl,
        avatar_url: null,
        git_ssh_url: `git@gitlab.acme.test:${project}.git`,
        git_http_url: `${webUrl}.git`,
        namespace: org,
        visibility_level: 0,
        path_with_namespace: project,
        default_branch: 'main',
        ci_config_path: '',
      },
      commit: {
        id: b.sha,
        message: `${b.subject}\n`,
        title: b.subject,
        timestamp: iso(b.queuedAt - 30_000).replace('.000Z', '+00:00'),
        url: `${webUrl}/-/commit/${b.sha}`,
        author: { name: b.author.name, email: b.author.email },
      },
      builds: jobs,
    }
  }
  const states = terminal(b) ? [b.status === 'success' ? 'success' : 'failed'] : ['pending', 'running']
  return states.map((s) => {
    const uuid = randomUUID()
    return json('gitlab', body(s), {
      'Content-Type': 'application/json',
      'User-Agent': 'GitLab/17.6.1',
      'X-Gitlab-Event': 'Pipeline Hook',
      'X-Gitlab-Webhook-UUID': '5f1a0c3e-8d7b-4b1e-9c2a-3e4f5a6b7c8d',
      'X-Gitlab-Instance': 'https://gitlab.acme.test',
      'X-Gitlab-Event-UUID': uuid,
      'Idempotency-Key': uuid,
    })
  })
}

// ---------------------------------------------------------------------------------------------
// CircleCI: only terminal events exist, so a running build shows through its first job-completed

export function circleci(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const [org, name] = splitProject(project)
  const slug = `github/${project}`
  const end = finished(b)
  const pipelineObj = {
    id: stableUuid(b.uuid, 'p'),
    number: b.number,
    created_at: iso(b.queuedAt),
    trigger: { type: 'webhook' },
    vcs: {
      provider_name: 'github',
      origin_repository_url: `https://github.com/${project}`,
      target_repository_url: `https://github.com/${project}`,
      revision: b.sha,
      commit: {
        subject: b.subject,
        body: '',
        author: { name: b.author.name, email: b.author.email },
        authored_at: iso(b.queuedAt - 60_000),
        committer: { name: b.author.name, email: b.author.email },
        committed_at: iso(b.queuedAt - 60_000),
      },
      branch,
    },
  }
  const workflowUrl = `https://app.circleci.com/pipelines/${slug}/${b.number}/workflows/${b.uuid}`
  const common = {
    webhook: { id: '0d7e51c8-2c4a-4f3e-9b1d-6a5e4c3b2a19', name: 'radiator' },
    pipeline: pipelineObj,
    project: { id: stableUuid(project, 'proj'), name, slug },
    organization: { id: stableUuid(org, 'org'), name: org },
  }
  const headers = (type: string) => ({
    'content-type': 'application/json',
    'user-agent': 'CircleCI-Webhook/1.0',
    'circleci-event-type': type,
  })
  if (!terminal(b)) {
    const stopped = b.startedAt + 2_000
    const body = {
      type: 'job-completed',
      id: randomUUID(),
      happened_at: iso(stopped),
      ...common,
      workflow: { id: b.uuid, name: pipeline, created_at: iso(b.startedAt), stopped_at: null, url: workflowUrl },
      job: {
        id: randomUUID(),
        name: 'checkout',
        number: b.number * 3,
        status: 'success',
        started_at: iso(b.startedAt),
        stopped_at: iso(stopped),
      },
    }
    return [json('circleci', body, headers('job-completed'))]
  }
  const body = {
    type: 'workflow-completed',
    id: randomUUID(),
    happened_at: iso(end),
    ...common,
    workflow: {
      id: b.uuid,
      name: pipeline,
      created_at: iso(b.startedAt),
      stopped_at: iso(end),
      url: workflowUrl,
      status: b.status === 'success' ? 'success' : 'failed',
    },
  }
  return [json('circleci', body, headers('workflow-completed'))]
}

/** A stable UUID-shaped id derived from a seed (ids that must not change between deliveries). */
function stableUuid(seed: string, salt: string): string {
  let h = 2166136261
  const hex: string[] = []
  for (let round = 0; round < 4; round++) {
    for (const ch of `${salt}:${round}:${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0
    hex.push(h.toString(16).padStart(8, '0'))
  }
  const s = hex.join('')
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`
}

// ---------------------------------------------------------------------------------------------
// Buildkite: build.running → build.finished (the REST Build object without jobs)

export function buildkite(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const [org, slug] = splitProject(project)
  const end = finished(b)
  const state = terminal(b) ? (b.status === 'success' ? 'passed' : 'failed') : 'running'
  const event = terminal(b) ? 'build.finished' : 'build.running'
  const creator = { id: stableUuid(b.author.login, 'bk-user'), name: b.author.name, email: b.author.email }
  const body = {
    event,
    build: {
      id: b.uuid,
      graphql_id: Buffer.from(`Build---${b.uuid}`).toString('base64'),
      url: `https://api.buildkite.com/v2/organizations/${org}/pipelines/${slug}/builds/${b.number}`,
      web_url: `https://buildkite.com/${org}/${slug}/builds/${b.number}`,
      number: b.number,
      state,
      blocked: false,
      cancel_reason: null,
      message: b.subject,
      commit: b.sha,
      branch,
      tag: null,
      env: {},
      source: 'webhook',
      author: { name: b.author.name, email: b.author.email },
      creator,
      created_at: iso(b.queuedAt),
      scheduled_at: iso(b.queuedAt),
      started_at: iso(b.startedAt),
      finished_at: terminal(b) ? iso(end) : null,
      meta_data: {},
      pull_request: null,
      rebuilt_from: null,
    },
    pipeline: {
      id: stableUuid(project, 'bk-pipeline'),
      url: `https://api.buildkite.com/v2/organizations/${org}/pipelines/${slug}`,
      web_url: `https://buildkite.com/${org}/${slug}`,
      name: pipeline,
      slug,
      repository: `git@github.com:${project}.git`,
      default_branch: 'main',
    },
    sender: { id: creator.id, name: b.author.name },
  }
  return [
    json('buildkite', body, {
      'Content-Type': 'application/json',
      'User-Agent': 'Buildkite-Request',
      'X-Buildkite-Event': event,
    }),
  ]
}

// ---------------------------------------------------------------------------------------------
// Bitbucket Cloud: commit status INPROGRESS (created) → SUCCESSFUL/FAILED (updated)

export function bitbucket(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const [, name] = splitProject(project)
  const key = `${name}-ci`
  const api = `https://api.bitbucket.org/2.0/repositories/${project}`
  const state = terminal(b) ? (b.status === 'success' ? 'SUCCESSFUL' : 'FAILED') : 'INPROGRESS'
  const event = terminal(b) ? 'repo:commit_status_updated' : 'repo:commit_status_created'
  const body = {
    actor: {
      display_name: b.author.name,
      nickname: b.author.login,
      account_id: stableUuid(b.author.login, 'bb').replaceAll('-', '').slice(0, 24),
      uuid: `{${stableUuid(b.author.login, 'bb-user')}}`,
      type: 'user',
    },
    repository: {
      type: 'repository',
      full_name: project,
      name,
      uuid: `{${stableUuid(project, 'bb-repo')}}`,
      scm: 'git',
      is_private: true,
      links: { html: { href: `https://bitbucket.org/${project}` } },
    },
    commit_status: {
      type: 'build',
      name: pipeline,
      description:
        state === 'INPROGRESS' ? 'Build in progress' : state === 'SUCCESSFUL' ? 'All tests passed' : '3 tests failed',
      state,
      key,
      url: `https://ci.acme.test/${name}/builds/${b.number}`,
      refname: branch,
      created_on: iso(b.startedAt).replace('Z', '+00:00'),
      updated_on: iso(terminal(b) ? finished(b) : b.startedAt).replace('Z', '+00:00'),
      links: {
        commit: { href: `${api}/commit/${b.sha}` },
        self: { href: `${api}/commit/${b.sha}/statuses/build/${key}` },
      },
    },
  }
  return [
    json('bitbucket', body, {
      'Content-Type': 'application/json',
      'User-Agent': 'Bitbucket-Webhooks/2.0',
      'X-Event-Key': event,
      'X-Hook-UUID': '{a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b}',
      'X-Request-UUID': randomUUID(),
      'X-Attempt-Number': '1',
    }),
  ]
}

// ---------------------------------------------------------------------------------------------
// Azure DevOps: the service hook only has build.complete, so a running build sends nothing

export function azureDevops(b: DemoBuild): Unsigned[] {
  if (!terminal(b)) return []
  const { project, pipeline, branch } = b.pipe
  const org = 'https://dev.azure.com/acme'
  const projectId = stableUuid(project, 'ado-project')
  const web = `${org}/${encodeURIComponent(project)}/_build/results?buildId=${b.id}`
  const result = b.status === 'success' ? 'succeeded' : 'failed'
  const text = `Build ${b.number} ${result}`
  const person = { displayName: b.author.name, uniqueName: b.author.email, id: stableUuid(b.author.login, 'ado-user') }
  const body = {
    subscriptionId: '6f1b5d2a-7c3e-4a9b-8e0d-1f2a3b4c5d6e',
    notificationId: b.id % 100_000,
    id: randomUUID(),
    eventType: 'build.complete',
    publisherId: 'tfs',
    message: {
      text,
      html: `Build <a href="${web}">${b.number}</a> ${result}`,
      markdown: `Build [${b.number}](${web}) ${result}`,
    },
    detailedMessage: { text },
    resource: {
      id: b.id,
      buildNumber: String(b.number),
      status: 'completed',
      result,
      queueTime: iso(b.queuedAt),
      startTime: iso(b.startedAt),
      finishTime: iso(finished(b)),
      url: `${org}/${projectId}/_apis/build/Builds/${b.id}`,
      definition: { id: 12, name: pipeline, type: 'build', queueStatus: 'enabled', path: '\\' },
      project: { id: projectId, name: project, state: 'wellFormed', visibility: 'private' },
      uri: `vstfs:///Build/Build/${b.id}`,
      sourceBranch: `refs/heads/${branch}`,
      sourceVersion: b.sha,
      priority: 'normal',
      reason: 'individualCI',
      requestedFor: person,
      requestedBy: person,
      lastChangedBy: person,
      repository: { id: stableUuid(project, 'ado-repo'), type: 'TfsGit' },
      _links: { web: { href: web }, self: { href: `${org}/${projectId}/_apis/build/Builds/${b.id}` } },
    },
    resourceVersion: '2.0',
    resourceContainers: {
      collection: { id: 'c12d0eb8-e382-443b-9f9c-c52cba5014c2', baseUrl: `${org}/` },
      account: { id: 'f844ec47-a9db-4511-8281-8b63f4eaf94e', baseUrl: `${org}/` },
      project: { id: projectId, baseUrl: `${org}/` },
    },
    createdDate: iso(finished(b) + 1_000),
  }
  return [json('azure-devops', body, { 'Content-Type': 'application/json; charset=utf-8' })]
}

// ---------------------------------------------------------------------------------------------
// Drone: system webhook, build created (pending) → updated (running) → updated (success/failure)

export function drone(b: DemoBuild): Unsigned[] {
  const { project, branch } = b.pipe
  const [org, name] = splitProject(project)
  const end = finished(b)
  const states: [action: string, status: string][] = terminal(b)
    ? [['updated', b.status === 'success' ? 'success' : 'failure']]
    : [
        ['created', 'pending'],
        ['updated', 'running'],
      ]
  return states.map(([action, status]) => {
    const version = ++b.sent
    const done = status === 'success' || status === 'failure'
    const started = status === 'pending' ? 0 : unix(b.startedAt)
    const stopped = done ? unix(end) : 0
    const body = {
      action,
      repo: {
        id: 40 + name.length,
        uid: String(1_000_000 + name.length),
        user_id: 2,
        namespace: org,
        name,
        slug: project,
        scm: 'git',
        git_http_url: `https://github.com/${project}.git`,
        git_ssh_url: `git@github.com:${project}.git`,
        link: `https://github.com/${project}`,
        default_branch: 'main',
        private: true,
        visibility: 'private',
        active: true,
        config_path: '.drone.yml',
        trusted: false,
        protected: false,
        timeout: 60,
        counter: b.number,
        version: b.number + 2,
      },
      build: {
        id: b.id,
        repo_id: 40 + name.length,
        number: b.number,
        status,
        event: 'push',
        action: '',
        link: `https://github.com/${project}/commit/${b.sha}`,
        message: b.subject,
        before: '0000000000000000000000000000000000000000',
        after: b.sha,
        ref: `refs/heads/${branch}`,
        source_repo: '',
        source: branch,
        target: branch,
        author_login: b.author.login,
        author_name: b.author.name,
        author_email: b.author.email,
        sender: b.author.login,
        started,
        finished: stopped,
        created: unix(b.queuedAt),
        updated: done ? stopped : started || unix(b.queuedAt),
        version,
        stages: [
          {
            id: b.id * 10,
            repo_id: 40 + name.length,
            build_id: b.id,
            number: 1,
            name: 'default',
            kind: 'pipeline',
            type: 'docker',
            status,
            errignore: false,
            exit_code: status === 'failure' ? 1 : 0,
            os: 'linux',
            arch: 'amd64',
            started,
            stopped,
            created: unix(b.queuedAt),
            updated: done ? stopped : started || unix(b.queuedAt),
            version,
            on_success: true,
            on_failure: false,
          },
        ],
      },
    }
    return json('drone', body, { 'Content-Type': 'application/json', 'X-Drone-Event': 'build' })
  })
}

// ---------------------------------------------------------------------------------------------
// Jenkins Notification plugin: QUEUED, STARTED → COMPLETED, FINALIZED (nulls omitted, as Gson does)

export function jenkins(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const job = `job/${encodeURIComponent(project)}/`
  const end = finished(b)
  const result = b.status === 'success' ? 'SUCCESS' : 'FAILURE'
  const phases: [phase: string, at: number][] = terminal(b)
    ? [
        ['COMPLETED', end],
        ['FINALIZED', end + 800],
      ]
    : [
        ['QUEUED', b.queuedAt],
        ['STARTED', b.startedAt],
      ]
  return phases.map(([phase, at]) => {
    const done = phase === 'COMPLETED' || phase === 'FINALIZED'
    const body = {
      name: project,
      display_name: pipeline,
      url: job,
      build: {
        full_url: `https://jenkins.acme.test/${job}${b.number}/`,
        number: b.number,
        queue_id: b.id,
        timestamp: at,
        ...(done ? { duration: end - b.startedAt, status: result } : {}),
        phase,
        url: `${job}${b.number}/`,
        scm: {
          url: `https://github.com/acme/${project.replace(/^acme-/, '')}.git`,
          branch: `origin/${branch}`,
          commit: b.sha,
          changes: [],
          culprits: [b.author.login],
        },
        log: '',
        notes: '',
        artifacts: {},
      },
    }
    return json('jenkins', body, {
      'Content-Type': 'application/json;charset=UTF-8',
      'User-Agent': 'Jenkins Notification Plugin',
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Generic: a deploy script posting the build model itself

export function generic(b: DemoBuild): Unsigned[] {
  const { project, pipeline, branch } = b.pipe
  const body = {
    id: `${project}:${pipeline}:${b.id}`,
    project,
    pipeline,
    branch,
    number: b.number,
    status: b.status,
    commit: { sha: b.sha, subject: b.subject, author: b.author.name },
    actor: b.author.login,
    url: `https://deploy.acme.test/${project}/runs/${b.number}`,
    trigger: 'push',
    queuedAt: iso(b.queuedAt),
    startedAt: iso(b.startedAt),
    ...(terminal(b) ? { finishedAt: iso(finished(b)) } : {}),
  }
  return [
    json('generic', body, {
      'Content-Type': 'application/json',
      'User-Agent': 'curl/8.5.0',
      'Idempotency-Key': randomUUID(),
    }),
  ]
}

/**
 * The generator of each provider the demo plays, by route name. A provider of the registry without
 * one is simply not in the demo; the demo test checks these are registry providers.
 */
export const GENERATORS: Readonly<Record<ProviderName, (b: DemoBuild) => Unsigned[]>> = {
  github,
  gitea,
  gitlab,
  circleci,
  buildkite,
  bitbucket,
  'azure-devops': azureDevops,
  drone,
  jenkins,
  generic,
}

export interface SignedDelivery extends Unsigned {
  /** Route path under the server's base URL. */
  path: string
}

/** The deliveries the build's provider sends for its current status, signed with `secret` at `now`. */
export function deliveriesFor(b: DemoBuild, secret: string, now = Date.now()): SignedDelivery[] {
  const generate = GENERATORS[b.pipe.provider]
  if (!generate) throw new Error(`the demo has no generator for ${b.pipe.provider}`)
  return generate(b).map((d) => ({
    ...d,
    path: `/hooks/${d.provider}`,
    headers: { ...d.headers, ...signer(d.provider)(d.raw, secret, now) },
  }))
}

/** The test kit's signer for a provider: the demo signs exactly as the tests do. */
function signer(provider: ProviderName) {
  const sign = SIGNERS[provider]
  if (!sign) throw new Error(`server/test/sign has no signer for ${provider}`)
  return sign
}
