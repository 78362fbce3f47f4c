// The load generator of bench/rpc, in a worker thread so that it does not queue behind the
// server's event loop. N closed-loop clients each read one project over one surface, wait for
// the answer (decoded: JSON parsed for REST, the message decoded for RPC), and send the next.
// A warm-up, then a measured window; a call counts in the window when it completes inside it.
//
// `rest`, `connect` and `connect_json` use the same plain node:http client on the same
// keep-alive pool (Connect's unary protocol is a POST whose body is the message), so their
// ratio is the servers' difference alone. `connect_client` and `grpc` use connect-node's
// transports, as a TypeScript client would: their figures include that client's own cost.
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { fromBinary, fromJson, toBinary, create } from '@bufbuild/protobuf'
import { createClient, type Interceptor } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node'
import { GetProjectRequestSchema, GetProjectResponseSchema, ProjectService } from '../../src/gen/stratavore/v1/project_pb.js'

export const SURFACES = ['rest', 'connect', 'connect_json', 'connect_client', 'grpc'] as const
export type Surface = typeof SURFACES[number]

export interface LoadParams {
  surface: Surface
  httpUrl: string
  grpcUrl: string
  project: string
  /** The bearer token every call carries. */
  token: string
  clients: number
  warmupMs: number
  durationMs: number
}

export interface LoadResult {
  latencies: Float64Array
  windowMs: number
  errors: number
  errorSamples: string[]
  clientEventLoopUtilization: number
}

/** Sent when the measured window opens and closes, so the parent can sample the server. */
export interface PhaseMessage { phase: 'window-start' | 'window-end' }

type Check = (status: number, body: Buffer) => void

const httpCaller = (url: URL, agent: Agent, options: { method: string, headers: Record<string, string | number>, body?: Buffer }, check: Check) =>
  () => new Promise<void>((resolve, reject) => {
    const req = request(url, { agent, method: options.method, headers: options.headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        try { check(res.statusCode ?? 0, Buffer.concat(chunks)) } catch (err) { return reject(err) }
        resolve()
      })
      res.on('error', reject)
    })
    req.setTimeout(30_000, () => req.destroy(new Error('request timeout')))
    req.on('error', reject)
    req.end(options.body)
  })

const expectProject = (project: string, name: string | undefined) => { if (name !== project) throw new Error('wrong project') }

const plainCaller = ({ surface, httpUrl, project, token }: LoadParams, agent: Agent) => {
  const authorization = `Bearer ${token}`
  if (surface === 'rest') {
    return httpCaller(new URL(`/api/v1/projects/${project}`, httpUrl), agent, { method: 'GET', headers: { accept: 'application/json', authorization } }, (status, body) => {
      if (status !== 200) throw new Error(`HTTP ${status}`)
      expectProject(project, (JSON.parse(body.toString('utf8')) as { name?: string }).name)
    })
  }
  const url = new URL('/stratavore.v1.ProjectService/GetProject', httpUrl)
  const binary = surface === 'connect'
  const body = binary ? Buffer.from(toBinary(GetProjectRequestSchema, create(GetProjectRequestSchema, { name: project }))) : Buffer.from(JSON.stringify({ name: project }))
  const headers = { 'content-type': binary ? 'application/proto' : 'application/json', 'connect-protocol-version': '1', 'content-length': body.length, authorization }
  return httpCaller(url, agent, { method: 'POST', headers, body }, (status, answer) => {
    if (status !== 200) throw new Error(`HTTP ${status}: ${answer.toString('utf8').slice(0, 200)}`)
    const message = binary ? fromBinary(GetProjectResponseSchema, answer) : fromJson(GetProjectResponseSchema, JSON.parse(answer.toString('utf8')))
    expectProject(project, message.project?.name)
  })
}

const rpcCaller = (params: LoadParams, agent: Agent) => {
  const { surface, httpUrl, grpcUrl, project, token } = params
  const interceptors: Interceptor[] = [next => async request => { request.header.set('authorization', `Bearer ${token}`); return next(request) }]
  const transport = surface === 'grpc'
    ? createGrpcTransport({ baseUrl: grpcUrl, interceptors })
    : createConnectTransport({ baseUrl: httpUrl, httpVersion: '1.1', nodeOptions: { agent }, interceptors })
  const client = createClient(ProjectService, transport)
  return async () => {
    const { project: got } = await client.getProject({ name: project }, { timeoutMs: 30_000 })
    if (got?.name !== project) throw new Error('wrong project')
  }
}

const run = async (notify: (m: PhaseMessage) => void, params: LoadParams): Promise<LoadResult> => {
  const { clients, warmupMs, durationMs } = params
  // The same keep-alive pool for REST and Connect over HTTP/1.1; gRPC multiplexes one HTTP/2 session.
  const agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients })
  const call = params.surface === 'connect_client' || params.surface === 'grpc' ? rpcCaller(params, agent) : plainCaller(params, agent)
  const start = performance.now()
  const windowStart = start + warmupMs
  const windowEnd = windowStart + durationMs
  const latencies: number[] = []
  const errorSamples: string[] = []
  let errors = 0
  let eluStart = performance.eventLoopUtilization()
  let eluEnd = eluStart
  const opened = setTimeout(() => { eluStart = performance.eventLoopUtilization(); notify({ phase: 'window-start' }) }, warmupMs)
  const closed = setTimeout(() => { eluEnd = performance.eventLoopUtilization(); notify({ phase: 'window-end' }) }, warmupMs + durationMs)

  const client = async () => {
    while (performance.now() < windowEnd) {
      const sent = performance.now()
      let ok = true
      try {
        await call()
      } catch (err) {
        ok = false
        if (errorSamples.length < 5) errorSamples.push(String((err as Error).message))
      }
      const done = performance.now()
      if (done < windowStart || done >= windowEnd) continue
      if (ok) latencies.push(done - sent)
      else errors++
    }
  }
  try {
    await Promise.all(Array.from({ length: clients }, client))
  } finally {
    agent.destroy()
  }
  await new Promise(resolve => setTimeout(resolve, Math.max(0, windowEnd - performance.now()) + 1))
  clearTimeout(opened)
  clearTimeout(closed)
  const elu = performance.eventLoopUtilization(eluEnd, eluStart).utilization
  return { latencies: Float64Array.from(latencies), windowMs: durationMs, errors, errorSamples, clientEventLoopUtilization: Number(elu.toFixed(3)) }
}

if (parentPort) {
  const port = parentPort
  run(message => port.postMessage(message), workerData as LoadParams).then(
    result => port.postMessage({ ok: true, result }, [result.latencies.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) }),
  )
}
