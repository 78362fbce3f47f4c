// GET /api/v1/doctor (admin): the daemon's half of `stratavore doctor`, one entry per check.
// Admin only: it names paths, versions and the host's agent CLIs.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { problems } from './schemas.js'

const DoctorReport = Type.Object({
  ok: Type.Boolean({ description: 'no check failed (warnings allowed)' }),
  checks: Type.Array(Type.Object({
    name: Type.String(),
    status: Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail')]),
    detail: Type.String(),
  }, { additionalProperties: false })),
}, { additionalProperties: false })

export const doctorRoutes = async (app: FastifyInstance) => {
  const { ctx } = app
  app.get('/api/v1/doctor', {
    schema: {
      tags: ['operations'],
      summary: 'Check what this daemon depends on (admin): database, migrations, broker, clock, agent CLIs, file modes, ports, audit log',
      response: { 200: DoctorReport, ...problems(503) },
    },
  }, async () => {
    const checks = await ctx.doctor()
    return { ok: checks.every(c => c.status !== 'fail'), checks }
  })
}
