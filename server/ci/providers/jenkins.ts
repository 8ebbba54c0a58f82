/**
 * @module Jenkins Notification plugin (JSON format). No event header and no signature: the phase is
 * in the body, and the only credential Jenkins can send is the one put in the endpoint URL.
 * `build.timestamp` (ms epoch) means a different moment in each phase.
 */
import { emptyUpdate } from '../model.ts'
import type { BuildStatus } from '../../../contract/builds.ts'
import { BadPayload, type Delivery, type NormalizeResult, defineProvider, secretVar } from '../provider.ts'
import { MAX_DURATION_MS, requiredTime, shiftIso } from '../time.ts'
import { fail, OK, secretList } from '../verify.ts'
import { credentialFrom, secretIn } from '../../http/auth.ts'
import { arr, int, lookup, obj, str, tagOf } from '../payload.ts'

const SECRET_VAR = 'JENKINS_WEBHOOK_TOKEN'

/** hudson.model.Result, sent as `build.status` from COMPLETED on. */
const RESULT: Record<string, BuildStatus> = {
  SUCCESS: 'success',
  // Tests failed but the build ran: still red on a radiator.
  UNSTABLE: 'failure',
  FAILURE: 'failure',
  NOT_BUILT: 'skipped',
  ABORTED: 'canceled',
}
/** FINISHED is what older plugin versions sent for FINALIZED. */
const TERMINAL_PHASES = ['COMPLETED', 'FINALIZED', 'FINISHED']

function verify(d: Delivery, secrets: Record<string, readonly string[]>) {
  const keys = secretList(secrets, SECRET_VAR)
  // `?token=` too, because some Jenkins setups can only configure a plain URL (no credentials);
  // it ends up in access logs, so user:token in the URL (HTTP Basic) is the better choice.
  const given = [credentialFrom(d.headers.get('authorization')), d.url.searchParams.get('token')].filter(
    (c): c is string => c !== null && c !== ''
  )
  if (given.length === 0) {
    return fail('missing credentials: put user:token in the endpoint URL or add ?token=')
  }
  let ok = false
  for (const g of given) ok = secretIn(g, keys) || ok
  return ok ? OK : fail('Jenkins token does not match')
}

/** `origin/main` (GIT_BRANCH) → `main`; a tag ref becomes a tag. */
function fromGitBranch(v: unknown): { branch: string; tag: string | null } {
  const ref = str(v, 1000) ?? ''
  if (ref.startsWith('refs/tags/')) return { branch: '', tag: tagOf(ref) }
  const branch = ref.replace(/^refs\/(heads|remotes\/origin)\//, '').replace(/^origin\//, '')
  return { branch: branch.slice(0, 300), tag: null }
}

function normalize(_d: Delivery, body: unknown): NormalizeResult {
  const b = obj(body)
  if (!b) throw new BadPayload('body is not a JSON object')
  const build = obj(b.build)
  const name = str(b.name)
  if (!build) throw new BadPayload('missing build')
  if (!name) throw new BadPayload('missing name')
  const number = int(build.number)
  const phase = str(build.phase, 50)?.toUpperCase()
  if (number === null) throw new BadPayload('missing build.number')
  if (!phase) throw new BadPayload('missing build.phase')
  const event = phase
  const result = str(build.status, 50)
  const terminal = TERMINAL_PHASES.includes(phase)
  const status: BuildStatus | undefined =
    phase === 'QUEUED' ? 'queued' : phase === 'STARTED' ? 'running' : terminal ? lookup(RESULT, result) : undefined
  if (!status) {
    return { kind: 'ignored', event, reason: `unknown phase/status: ${phase}/${result ?? '-'}` }
  }

  const job = str(b.url, 150) ?? name.slice(0, 150)
  const u = emptyUpdate('jenkins', `${job}#${number}`, name)
  const scm = obj(build.scm)
  const ref = fromGitBranch(scm?.branch)
  const culprits = arr(scm?.culprits).filter((c) => str(c))
  u.pipeline = str(b.display_name) ?? name
  u.branch = ref.branch
  u.tag = ref.tag
  u.number = number
  u.status = status
  u.commit.sha = str(scm?.commit, 80)
  // Culprits are the committers since the last build; Jenkins sends no triggering user.
  u.actor = str(culprits.join(', '), 200)
  u.url = str(build.full_url, 2000)

  // The plugin stamps QUEUED with the enqueue time, STARTED with the start, COMPLETED with
  // start + duration, and FINALIZED with the send time (after post-build steps): not a finish.
  const at = requiredTime(build, 'timestamp', 'build.timestamp')
  const given = terminal ? int(build.duration) : null
  const duration = given !== null && given <= MAX_DURATION_MS ? given : null
  if (phase === 'QUEUED') u.queuedAt = at
  if (phase === 'STARTED') u.startedAt = at
  if (phase === 'COMPLETED') {
    u.finishedAt = at
    u.startedAt = shiftIso(at, duration === null ? null : -duration)
  }
  u.durationMs = duration
  u.eventTime = at
  const deliveryId = ['jenkins', job, number, phase, result].filter((p) => p !== null).join(':')
  return { kind: 'build', event, deliveryId, update: u }
}

export const jenkins = defineProvider({
  name: 'jenkins',
  title: 'Jenkins',
  secrets: { [SECRET_VAR]: secretVar('comma-separated tokens') },
  eventHeaders: [],
  verify,
  normalize,
})
