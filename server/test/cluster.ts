/**
 * @module A cluster for one test file: a fresh PostgreSQL database and a JetStream stream name of its
 * own, as the environment every member is started with (DATABASE_URL, LIVE_BUS_URL,
 * LIVE_STREAM_NAME); `drop()` deletes both. Members are ordinary test servers (harness.ts) or
 * processes (cluster-node.ts) given this environment.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { type ChildProcess, spawn } from 'node:child_process'
import type { ConfigVar } from '../config.ts'
import { ROOT } from '../http/web-build.ts'
import { TEST_ADMIN_TOKEN, until } from './harness.ts'
import { clusterNginxConfig, freePort, type RunningProxy, startProxy } from './proxies.ts'
import { freshDatabase, NATS_URL, uniqueName } from './services.ts'

export interface TestCluster {
  env: Partial<Record<ConfigVar, string>>
  databaseUrl: string
  stream: string
  drop(): Promise<void>
}

export async function testCluster(): Promise<TestCluster> {
  const db = await freshDatabase()
  const stream = uniqueName('radiator_t')
  return {
    env: { DATABASE_URL: db.url, LIVE_BUS_URL: NATS_URL, LIVE_STREAM_NAME: stream },
    databaseUrl: db.url,
    stream,
    async drop() {
      const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') })
      try {
        const jsm = await jetstreamManager(nc)
        await jsm.streams.delete(stream).catch(() => {})
      } finally {
        await nc.close()
      }
      await db.drop()
    },
  }
}

/** Webhook secrets and the site every member of a test cluster is started with. */
export const GITHUB_SECRET = 'cluster-github-secret'
export const GENERIC_TOKEN = 'cluster-generic-token'
export const SITE = 'shop.example.com'

/**
 * One member as its own process (`server/main.ts`, as an operator starts it), so a test can SIGKILL
 * it; `out` collects its output (the leader's log line among it).
 */
export interface Member {
  port: number
  child: ChildProcess
  out: string
  exited: Promise<unknown>
}

export function startMember(cluster: TestCluster, port: number, env: Record<string, string> = {}): Member {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...cluster.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      TRUST_PROXY: 'true',
      ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      PUBLIC_DASHBOARD: 'true',
      GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
      GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN,
      SITES: SITE,
      COLLECT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const m: Member = { port, child, out: '', exited: new Promise((r) => child.on('exit', (c, s) => r(s ?? c))) }
  child.stdout!.on('data', (d) => (m.out += d))
  child.stderr!.on('data', (d) => (m.out += d))
  return m
}

export const healthy = async (port: number) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200
  } catch {
    return false
  }
}

/**
 * Three members on `cluster` behind nginx running deploy/cluster/nginx.conf (round robin). The first
 * starts alone (it creates the schema and the stream), the others join a cluster that exists. Pushes
 * each member into `members` as it starts, so the caller's clean-up kills them whatever fails.
 */
export async function threeBehindNginx(
  cluster: TestCluster,
  members: Member[],
  env: Record<string, string> = {}
): Promise<{ ports: number[]; proxy: RunningProxy }> {
  const ports = [await freePort(), await freePort(), await freePort()]
  members.push(startMember(cluster, ports[0]!, env))
  await until(() => healthy(ports[0]!), `instance 1 up (${members.at(-1)!.out})`, 60_000)
  members.push(startMember(cluster, ports[1]!, env), startMember(cluster, ports[2]!, env))
  await until(async () => (await Promise.all(ports.map(healthy))).every(Boolean), 'three instances up', 60_000)
  const proxy = await startProxy('nginx', { port: ports[0]! }, { site: (p) => clusterNginxConfig(p, ports) })
  return { ports, proxy }
}
