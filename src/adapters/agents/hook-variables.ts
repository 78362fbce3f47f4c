// The variables that carry a runner's hook channel into its agent's environment (the channel
// itself: src/adapters/supervisor/hook-server.ts). The secret never goes in argv, which any
// user of the host can read.
export const HOOK_TOKEN_VARIABLE = 'STRATAVORE_HOOK_TOKEN'
export const HOOK_URL_VARIABLE = 'STRATAVORE_HOOK_URL'
