// The token of an `Authorization: Bearer <token>` header, or null: node credentials on the
// heartbeat routes, attach tickets on the supervisor's channel.
export const bearerToken = (authorization: string | null | undefined): string | null =>
  /^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? null
