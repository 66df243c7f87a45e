// Request bodies are JSON, at most 64 KiB (fastify's bodyLimit, answered 413). One
// parser for every content type, so a body that is not JSON is answered in our words
// (400 `invalid`) rather than fastify's 415, as the hand-rolled router did.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

function parseJson(req: FastifyRequest, text: string): unknown {
  // An empty body is no body: the route's schema says what was missing.
  if (text.trim() === '') return undefined;
  if (!/json/i.test(req.headers['content-type'] ?? 'application/json')) {
    throw new AppError('invalid', 'send a JSON body (content-type: application/json)');
  }
  // Plain JSON.parse: a `__proto__` key becomes an own property, which the strict
  // schemas then refuse as an unknown key (it never reaches a prototype).
  try { return JSON.parse(text) as unknown; } catch { throw new AppError('invalid', 'body is not valid JSON'); }
}

export function jsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, text, done) => {
    try { done(null, parseJson(req, text as string)); } catch (err) { done(err as Error, undefined); }
  });
}
