// Request helpers shared by the route modules: identity and body parsing.
import type { z } from 'zod';
import { toFieldErrors } from '../../shared/schemas.ts';
import type { TokenClaims } from '../../shared/types.ts';
import type { Auth } from '../auth.ts';
import { AppError } from '../errors.ts';
import type { HttpRequest } from './router.ts';

export async function identify(auth: Auth, req: HttpRequest): Promise<TokenClaims> {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return auth.verify(match?.[1]);
}

export async function body<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await req.json());
  if (!parsed.success) throw new AppError('invalid', 'the request body is not valid', { errors: toFieldErrors(parsed.error) });
  return parsed.data;
}
