// `npm run token -- <role> <id> [ttlSeconds]`: prints a JWT signed with JWT_SECRET.
import { ROLES, type Role } from '../shared/domain.ts';
import { createAuth } from '../server/auth.ts';
import { loadConfig } from '../server/config.ts';

const [role, id, ttl] = process.argv.slice(2);
if (!role || !id || !(ROLES as readonly string[]).includes(role)) {
  console.error(`usage: npm run token -- <${ROLES.join('|')}> <id> [ttlSeconds]`);
  process.exit(2);
}
const auth = createAuth(loadConfig().JWT_SECRET);
console.log(await auth.sign({ role: role as Role, sub: id }, ttl ? Number(ttl) : undefined));
