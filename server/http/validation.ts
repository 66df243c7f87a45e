// Request validation with the route's zod schemas. Our own small compiler rather than
// fastify-type-provider-zod's: a refusal must be the contract's problem document, with
// `errors` exactly as sockets list them (toFieldErrors), and a detail (and sometimes a
// code) chosen per schema, settled once when the route is compiled.
import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { toFieldErrors } from '../../shared/schemas.ts';
import { AppError, type ErrorCode } from '../errors.ts';

interface Refusal { code?: ErrorCode; detail: string | ((input: unknown) => string) }

const refusals = new WeakMap<z.ZodType, Refusal>();

/** Says how a failure of `schema` is answered (default: 400 `invalid`, a detail per part). */
export function refusal<S extends z.ZodType>(schema: S, how: Refusal): S {
  refusals.set(schema, how);
  return schema;
}

const DETAIL: Record<string, string> = {
  body: 'the request body is not valid',
  params: 'the path holds a malformed id',
  querystring: 'bad query parameters',
  headers: 'bad request headers',
};

export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const how = refusals.get(schema);
  const code = how?.code ?? 'invalid';
  const detail = how?.detail ?? DETAIL[httpPart ?? ''] ?? 'invalid request';
  // Headers are checked, not replaced: the handler reads the request's own.
  const keep = httpPart === 'headers';
  return (data: unknown) => {
    const parsed = schema.safeParse(data);
    if (parsed.success) return keep ? {} : { value: parsed.data };
    const text = typeof detail === 'function' ? detail(data) : detail;
    return { error: new AppError(code, text, { errors: toFieldErrors(parsed.error) }) };
  };
};
