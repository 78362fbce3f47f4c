// npm run openapi: regenerates openapi/openapi.json from the route schemas.
import { writeFileSync } from 'node:fs'
import { OPENAPI_PATH, renderOpenapi } from './openapi-document.js'

writeFileSync(OPENAPI_PATH, await renderOpenapi())
process.stdout.write(`wrote ${OPENAPI_PATH.pathname}\n`)
