// Path parameters are refused before anyone is identified or anything is read: an id
// or file name that is empty, too long, holds control characters or malformed unicode
// is a 400 `invalid`, never a lookup (and never a Postgres error).
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { z } from 'zod';
import { storable } from '../../shared/schemas.ts';
import { sendProblem } from './problem.ts';

/** Longest path parameter we look at; anything longer is not one of our ids or names. */
const MAX_PARAM = 200;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a decoded path parameter cannot be an id or file name, or null when it may be one. */
function malformedParam(value: string): string | null {
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_PARAM) return `is longer than ${MAX_PARAM} characters`;
  if (CONTROL.test(value)) return 'contains control characters';
  if (!storable(value)) return 'contains malformed unicode';
  return null;
}

/** An id in a path, as the OpenAPI document shows it (the guard below enforces it). */
export const pathId = (description: string) => z.string().min(1).max(MAX_PARAM).meta({ description, examples: ['0b7c3a52-5a51-4e0e-9a51-2f6c3b1f0d77'] });

// Answers by itself rather than through an error handler: plugins with their own error
// handler (the queue view) must refuse the same way.
export function guardParams(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const params = request.params as Record<string, string> | undefined;
  if (!params) { done(); return; }
  // Runs on every request: nothing is allocated unless a parameter is malformed.
  let errors: { path: string; message: string }[] | undefined;
  for (const name in params) {
    const why = malformedParam(params[name]!);
    if (why) {
      errors ??= [];
      errors.push({ path: name, message: why });
    }
  }
  if (errors) sendProblem(reply, { status: 400, code: 'invalid', detail: 'the path holds a malformed id', errors });
  else done();
}
