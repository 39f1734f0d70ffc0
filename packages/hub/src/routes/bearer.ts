/**
 * `Authorization: Bearer <token>` (RFC 6750; the scheme is case-insensitive), read the same way by
 * the bootstrap token of the runtime API and the admin token of the internal API.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}
