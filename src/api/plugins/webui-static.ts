// Serves a built Lex WebUI (webui.dir, its dist/ folder) at / on the API's origin: files with
// their types, hashed assets cached for a year, index.html never cached, and index.html for
// any other non-API GET so the app's client-side routes work. Nothing outside webui.dir is
// served: `..` is refused by @fastify/static, and symlinks are checked by their realpath.
import { realpathSync } from 'node:fs'
import { join, sep } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from '../../core/errors.js'

const isInside = (path: string, root: string) => path === root || path.startsWith(root + sep)

export const webuiStaticPlugin = fp(async (app: FastifyInstance, { root }: { root: string }) => {
  let realRoot: string
  try {
    realRoot = realpathSync(root)
    realpathSync(join(realRoot, 'index.html'))
  } catch {
    throw errors.invalidArgument(`webui.dir ${root} must be a directory holding index.html (the app's built dist/ folder)`)
  }
  await app.register(fastifyStatic, {
    root: realRoot,
    wildcard: true,
    decorateReply: true,
    index: ['index.html'],
    cacheControl: false,
    allowedPath: pathName => {
      try { return isInside(realpathSync(join(realRoot, pathName)), realRoot) } catch { return true /* missing: a 404 follows */ }
    },
    setHeaders: (reply, path) => {
      const policy = path.endsWith(`${sep}index.html`) ? 'no-cache'
        : path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable'
          : 'public, max-age=3600'
      void reply.header('cache-control', policy)
    },
  })
}, { name: 'webui-static' })

/** For the not-found handler: a client-side route of the app gets index.html. */
export const isAppRoute = (request: FastifyRequest) =>
  request.method === 'GET' && !request.url.startsWith('/api/') && !request.url.startsWith('/docs') && request.url !== '/openapi.json'

export const sendAppIndex = (reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html')
