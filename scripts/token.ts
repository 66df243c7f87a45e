// `npm run token -- <role> <id> [ttlSeconds]`: prints a JWT signed with JWT_SECRET
// (carrying JWT_AUDIENCE / JWT_ISSUER when configured). Lifetimes are capped at 24 h:
// a token is a bearer credential, and a leaked one should not outlive a day.
import { ROLES, type Role } from '../shared/domain.ts';
import { idSchema } from '../shared/schemas.ts';
import { createAuth, MAX_TOKEN_TTL_S } from '../server/auth.ts';
import { loadConfigOrExit } from '../server/config.ts';

const [role, id, ttl] = process.argv.slice(2);
if (!role || !id || !(ROLES as readonly string[]).includes(role)) {
  console.error(`usage: npm run token -- <${ROLES.join('|')}> <id> [ttlSeconds]  (ttl at most ${MAX_TOKEN_TTL_S} s)`);
  process.exit(2);
}
if (!idSchema.safeParse(id).success) {
  console.error('the id must be 1-100 printable characters');
  process.exit(2);
}
const ttlSeconds = ttl === undefined ? undefined : Number(ttl);
if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_S)) {
  console.error(`ttlSeconds must be a whole number from 1 to ${MAX_TOKEN_TTL_S} (24 h); got ${ttl}. Mint a new token when it expires.`);
  process.exit(2);
}
const config = loadConfigOrExit();
console.log(await createAuth(config).sign({ role: role as Role, sub: id }, ttlSeconds));
