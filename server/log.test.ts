import { describe, expect, it } from 'vitest'
import { createLogger, REDACTED } from './log.ts'

describe('the logger', () => {
  it('writes one JSON object per line with level, time, message and fields', () => {
    const lines: string[] = []
    const log = createLogger('info', (l) => lines.push(l))
    log.debug('not at info')
    log.info('webhook rejected', { provider: 'github', reason: 'bad signature' })
    expect(lines).toHaveLength(1)
    const line = JSON.parse(lines[0]!)
    expect(line).toMatchObject({ level: 'info', msg: 'webhook rejected', provider: 'github', reason: 'bad signature' })
    expect(new Date(line.time).toISOString()).toBe(line.time)
  })

  it('redacts credentials, cookies and webhook signatures wherever a line carries them', () => {
    const lines: string[] = []
    const log = createLogger('debug', (l) => lines.push(l))
    const secrets = [
      'Bearer s3cret-bearer',
      'radiator_session=c00kie',
      'sha256=abc123sig',
      'gl-t0ken',
      'v1,standard-sig',
      'plain-t0ken',
      'pa55word',
    ]
    log.warn('what a careless caller might pass', {
      headers: {
        authorization: secrets[0],
        cookie: secrets[1],
        'x-hub-signature-256': secrets[2],
        'x-gitlab-token': secrets[3],
        'webhook-signature': secrets[4],
        'user-agent': 'curl/8',
      },
      token: secrets[5],
      req: { password: secrets[6] },
    })
    const line = lines.join('\n')
    for (const s of secrets) expect(line).not.toContain(s)
    expect(JSON.parse(line).headers).toMatchObject({ authorization: REDACTED, 'user-agent': 'curl/8' })
  })
})
