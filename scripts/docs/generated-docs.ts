// The generated pages of docs/, each rendered from its source: the one list the writer
// (scripts/write-docs.ts) and the staleness test (test/docs/generated.test.ts) share.
import { readFileSync } from 'node:fs'
import { renderCliReference } from './cli-reference.js'
import { renderEventsReference } from './events-reference.js'
import { loadProtoFiles, REPO_ROOT } from './proto-files.js'
import { OPENAPI_FILE, renderRestReference, type OpenApiDocument } from './rest-reference.js'
import { renderRpcReference } from './rpc-reference.js'

/** Repository-relative path → page text. */
export const renderGeneratedDocs = async (protos = loadProtoFiles()): Promise<Record<string, string>> => {
  const openapi = JSON.parse(readFileSync(new URL(OPENAPI_FILE, REPO_ROOT), 'utf8')) as OpenApiDocument
  return {
    'docs/user/cli.md': await renderCliReference(REPO_ROOT),
    'docs/api/rest.md': renderRestReference(openapi),
    'docs/api/rpc.md': renderRpcReference(protos),
    'docs/api/events.md': renderEventsReference(protos),
  }
}
