// Response conformance, opt in: with the setting HTTP_RESPONSE_CHECK=1 (tests only) every answer of a documented route is checked against the schema its route
// documents for that status and content type, the same zod schema the OpenAPI document
// is generated from, and every mismatch or undocumented status is recorded per server
// (`responseMismatches`). Nothing is refused or changed: the answer goes out as it
// would have. Without the flag none of this is installed, and a response schema costs
// nothing per request (its serializer is JSON.stringify).
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance, FastifySerializerCompiler } from 'fastify';
import type { z } from 'zod';
import { isUndocumented } from './openapi.ts';

export interface Mismatch { method: string; url: string; status: number; problem: string }
export interface Observed { method: string; url: string; status: number }

interface Record_ { mismatches: Mismatch[]; observed: Observed[] }
const records = new WeakMap<HttpServer, Record_>();

/** What a server started with the flag saw: mismatches, and every (route, status) answered. */
export function responseMismatches(server: HttpServer): Mismatch[] { return records.get(server)?.mismatches ?? []; }
export function responsesObserved(server: HttpServer): Observed[] { return records.get(server)?.observed ?? []; }

type ZodLike = z.ZodType | { properties: z.ZodType };
const unwrap = (s: ZodLike): z.ZodType => ('properties' in s ? s.properties : s) as z.ZodType;

/** The production serializer: no check, no copy. */
export const plainSerializer: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);

export function checkResponses(app: FastifyInstance): void {
  const record: Record_ = { mismatches: [], observed: [] };
  records.set(app.server, record);

  app.setSerializerCompiler<ZodLike>(({ schema, method, url, httpStatus }) => {
    const zod = unwrap(schema);
    return (data) => {
      const parsed = zod.safeParse(data);
      if (!parsed.success) {
        record.mismatches.push({ method, url, status: Number(httpStatus), problem: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') });
      }
      return JSON.stringify(data);
    };
  });

  // A status the route does not document is a mismatch too (its body went unchecked).
  app.addHook('onSend', (req, reply, payload, done) => {
    const url = req.routeOptions.url;
    const schema = req.routeOptions.schema as { hide?: boolean; response?: Record<string, unknown> } | undefined;
    if (url !== undefined && !isUndocumented(url) && !schema?.hide) {
      const status = reply.statusCode;
      record.observed.push({ method: req.method, url, status });
      const documented = schema?.response && (schema.response[status] ?? schema.response[`${String(status)[0]}xx`] ?? schema.response.default);
      const types = (documented as { content?: Record<string, unknown> } | undefined)?.content;
      const type = String(reply.getHeader('content-type') ?? '').split(';')[0]!.trim();
      if (!documented) record.mismatches.push({ method: req.method, url, status, problem: 'status not documented' });
      else if (types && !(type in types)) record.mismatches.push({ method: req.method, url, status, problem: `content-type ${type} not documented` });
    }
    done(null, payload);
  });
}
