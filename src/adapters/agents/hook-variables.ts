// The variables that carry a runner's hook channel into its agent's environment (the channel
// itself: src/adapters/supervisor/hook-server.ts). The secret never goes in argv, which any
// user of the host can read.
export const HOOK_TOKEN_VARIABLE = 'STRATAVORE_HOOK_TOKEN'
export const HOOK_URL_VARIABLE = 'STRATAVORE_HOOK_URL'

/**
 * A JavaScript expression that POSTs `body` (an expression) to the runner's hook channel with its
 * secret, gives up after 3 s and drops any failure: what a hook or notify script run with
 * `node -e` does, so a supervisor that cannot answer never holds the agent up.
 */
export const postToHookChannel = (body: string) =>
  `fetch(process.env.${HOOK_URL_VARIABLE},{method:'POST',headers:{authorization:'Bearer '+process.env.${HOOK_TOKEN_VARIABLE},` +
  `'content-type':'application/json'},body:${body},signal:AbortSignal.timeout(3000)}).catch(()=>{})`
