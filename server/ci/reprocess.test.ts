import { describe, expect, it } from 'vitest'
import { builds } from '../db/schema.ts'
import { startTestServer, TEST_ENGINE } from '../test/harness.ts'
import { loadFixture } from '../test/fixtures.ts'
import { sign } from '../test/sign/github.ts'
import { reprocess } from './reprocess.ts'

// reprocess runs on SQLite only (reprocess-cli.ts refuses DATABASE_URL).
describe.skipIf(TEST_ENGINE !== 'sqlite')('reprocess', () => {
  it('rebuilds builds from the stored raw bodies, correcting what a parser got wrong', async () => {
    const s = await startTestServer({ GITHUB_WEBHOOK_SECRET: 'k' })
    try {
      for (const name of ['workflow_run-requested-queued-real', 'workflow_run-completed-success-real']) {
        const f = loadFixture('github', name)
        const res = await fetch(`${s.url}/hooks/github`, {
          method: 'POST',
          headers: { ...f.headers, ...sign(f.raw, 'k') },
          body: new Uint8Array(f.raw),
        })
        expect(res.status).toBe(200)
      }
      const stored = () =>
        s.store.db
          .select({ id: builds.id, status: builds.status, pipeline: builds.pipeline })
          .from(builds)
          .orderBy(builds.id)
          .all()
      const before = stored()
      expect(before.map((b) => b.status).sort()).toEqual(['queued', 'success'])
      // Simulate what an old parser bug left behind: a wrong status and a wrong pipeline name.
      s.store.db.update(builds).set({ status: 'failure', pipeline: 'oops' }).run()
      const r = reprocess(s.store.sqlite)
      expect(r).toEqual({ deliveries: 2, applied: 2, ignored: 0, failed: 0 })
      expect(stored()).toEqual(before)
    } finally {
      await s.destroy()
    }
  })
})
