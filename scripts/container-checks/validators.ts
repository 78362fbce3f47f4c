// Third-party validators, used when they can be loaded (a devDependency, or NODE_PATH) and
// skipped otherwise: dockerfile-utils (the Dockerfile linter of the VS Code Docker extension)
// and the Compose JSON schema (COMPOSE_SPEC_SCHEMA=path/to/compose-spec.json, else the copy in
// the dclint package). `docker compose config` and hadolint run from the .sh script.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { Report } from './report.js'

interface Diagnostic { severity?: number, message: string, range: { start: { line: number } } }
interface AjvLike { compile(schema: object): { (data: unknown): boolean, errors?: Array<{ instancePath: string, message?: string, params?: object }> | null } }
type AjvClass = new (options: object) => AjvLike

// Older copies of the schema still label subschemas with draft-04 `id`, which Ajv 8 refuses.
const withoutDraft4Ids = (node: unknown): unknown => Array.isArray(node) ? node.map(withoutDraft4Ids)
  : node && typeof node === 'object'
    ? Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutDraft4Ids(v)]))
    : node

const tryRequire = (req: NodeRequire, id: string): unknown => {
  try { return req(id) } catch { return null }
}

export const optionalValidators = (r: Report, req: NodeRequire, dockerfile: string, composeText: string) => {
  const utils = tryRequire(req, 'dockerfile-utils') as { validate(text: string): Diagnostic[] } | null
  if (utils) {
    const diagnostics = utils.validate(dockerfile)
    const errors = diagnostics.filter(d => d.severity === 1)
    for (const d of diagnostics.filter(x => x.severity !== 1)) r.note(`dockerfile-utils warning, line ${d.range.start.line + 1}: ${d.message}`)
    r.check('dockerfile-utils finds no error in the Dockerfile', errors.length === 0, errors.map(d => `line ${d.range.start.line + 1}: ${d.message}`).join('\n'))
  } else {
    r.skip('dockerfile-utils', 'not installed')
  }

  // dclint ships a current copy of compose-spec.json (its package exports hide the path).
  const packaged = (() => { try { return join(dirname(req.resolve('dclint/package.json')), 'schemas/compose.schema.json') } catch { return null } })()
  const schemaPath = process.env.COMPOSE_SPEC_SCHEMA || (packaged && existsSync(packaged) ? packaged : null)
  if (!schemaPath) {
    r.skip('Compose JSON schema', 'set COMPOSE_SPEC_SCHEMA=compose-spec.json, or install dclint')
    return
  }
  const what = `compose.yaml is valid against ${schemaPath}`
  try {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as { $schema?: string }
    const ajvModule = (/2019-09/.test(schema.$schema ?? '') ? req('ajv/dist/2019') : req('ajv')) as { default: AjvClass }
    // The meta-schema URI varies between copies of the schema (http/https, trailing #).
    const ajv = new ajvModule.default({ strict: false, allErrors: true, validateFormats: false, validateSchema: false })
    const validate = ajv.compile(withoutDraft4Ids({ ...schema, $schema: undefined }) as object)
    // The schema describes the file before interpolation, where every value may still be a string.
    const ok = validate(parseYaml(composeText, { merge: true }))
    r.check(what, ok, (validate.errors ?? []).map(e => `${e.instancePath || '(top)'} ${e.message ?? ''} ${JSON.stringify(e.params ?? {})}`).join('\n'))
  } catch (err) {
    r.check(what, false, `the validator failed: ${(err as Error).message}`)
  }
}
