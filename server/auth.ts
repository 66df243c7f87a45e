// JWT identity (HS256). Only HS256 is accepted, which refuses `alg: none` and any
// key-confusion trick; `exp` is required, and `aud`/`iss` when configured. Failed
// verifications count against the caller's address (AUTH_FAILURES_PER_MIN), shared by
// HTTP and sockets: past it, failing attempts are answered `rate_limited` instead of
// `unauthorized`, while valid tokens from the same address still pass (a thousand
// phones behind one carrier NAT must not be locked out by a few bad tokens).
import type { IncomingHttpHeaders } from 'node:http';
import { SignJWT, jwtVerify } from 'jose';
import { ROLES, type Role } from '../shared/domain.ts';
import { idSchema } from '../shared/schemas.ts';
import type { TokenClaims } from '../shared/types.ts';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import { KeyedBuckets } from './security/buckets.ts';
import { TokenCache } from './security/token-cache.ts';
import { clientIp } from './security/client-ip.ts';

/** The longest token `npm run token` mints: a leaked token is useful for a day at most. */
export const MAX_TOKEN_TTL_S = 24 * 3600;

/** Tokens remembered once verified (about 3 MB at most). */
const VERIFIED_TOKENS_KEPT = 10_000;

/** Verified claims, with the token's expiry (seconds since the epoch) so sessions can end with it. */
export interface VerifiedClaims extends TokenClaims {
  exp: number;
}

export type AuthConfig = Pick<Config, 'JWT_SECRET'> & Partial<Pick<Config, 'JWT_AUDIENCE' | 'JWT_ISSUER' | 'AUTH_FAILURES_PER_MIN' | 'TRUST_PROXY'>>;

export interface Auth {
  /** With `from`, a failure counts against that address's budget of failed authentications. */
  verify(token: string | undefined, from?: { ip: string }): Promise<VerifiedClaims>;
  sign(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** The address a request is charged to, honouring TRUST_PROXY. */
  addressOf(remoteAddress: string | undefined, headers: IncomingHttpHeaders): string;
}

/** A bare secret (scripts) or the configuration (server): aud/iss and the failure budget. */
export function createAuth(config: string | AuthConfig): Auth {
  const cfg: AuthConfig = typeof config === 'string' ? { JWT_SECRET: config } : config;
  const key = new TextEncoder().encode(cfg.JWT_SECRET);
  // jose imports a raw secret into a WebCrypto key on every verify; importing it once
  // takes about 40 µs off every authenticated request (58 vs 98 µs per verify here).
  const verifyKey = crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const failures = new KeyedBuckets(cfg.AUTH_FAILURES_PER_MIN ?? 30, 60_000);
  const verified = new TokenCache<VerifiedClaims>(VERIFIED_TOKENS_KEPT);
  const trustProxy = cfg.TRUST_PROXY ?? 0;

  async function check(token: string | undefined): Promise<VerifiedClaims> {
    if (!token || token.length > 4096) throw new AppError('unauthorized', 'missing token');
    const known = verified.get(token);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, await verifyKey, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'sub'],
        ...(cfg.JWT_AUDIENCE ? { audience: cfg.JWT_AUDIENCE } : {}),
        ...(cfg.JWT_ISSUER ? { issuer: cfg.JWT_ISSUER } : {}),
      });
      const role = payload.role;
      if (!idSchema.safeParse(payload.sub).success || typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
        throw new AppError('unauthorized', 'token lacks a valid sub or role');
      }
      const claims = { sub: payload.sub as string, role: role as Role, exp: payload.exp! };
      verified.set(token, claims);
      return claims;
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw new AppError('unauthorized', 'invalid or expired token', { cause: e });
    }
  }

  return {
    async verify(token, from) {
      try {
        return await check(token);
      } catch (e) {
        if (from && !failures.take(from.ip)) {
          throw new AppError('rate_limited', 'too many failed authentications from this address', {
            retryAfterS: failures.retryAfterS(from.ip), cause: e,
          });
        }
        throw e;
      }
    },
    async sign(claims, ttlSeconds = 12 * 3600) {
      const jwt = new SignJWT({ role: claims.role })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
      if (cfg.JWT_AUDIENCE) jwt.setAudience(cfg.JWT_AUDIENCE);
      if (cfg.JWT_ISSUER) jwt.setIssuer(cfg.JWT_ISSUER);
      return jwt.sign(key);
    },
    addressOf(remoteAddress, headers) {
      return clientIp(remoteAddress, headers['x-forwarded-for'], trustProxy);
    },
  };
}

export function requireRole(claims: TokenClaims, ...roles: Role[]): void {
  if (!roles.includes(claims.role)) throw new AppError('forbidden', `this needs role ${roles.join(' or ')}`);
}
