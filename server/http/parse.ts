// Request helpers shared by the route modules: identity and body parsing.
import type { z } from 'zod';
import { toFieldErrors } from '../../shared/schemas.ts';
import type { Auth, VerifiedClaims } from '../auth.ts';
import { AppError } from '../errors.ts';
import type { HttpRequest } from './router.ts';

/**
 * The caller's verified identity. A failure counts against the caller's address
 * (AUTH_FAILURES_PER_MIN, shared with sockets); past it, failing requests get 429.
 */
export async function identify(auth: Auth, req: HttpRequest): Promise<VerifiedClaims> {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  // The router exposes the peer address as `remoteAddress`.
  const remote = (req as HttpRequest & { remoteAddress?: string }).remoteAddress;
  return auth.verify(match?.[1], { ip: auth.addressOf(remote, req.headers) });
}

export async function body<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await req.json());
  if (!parsed.success) throw new AppError('invalid', 'the request body is not valid', { errors: toFieldErrors(parsed.error) });
  return parsed.data;
}
