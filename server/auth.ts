// JWT identity (HS256). Only HS256 is accepted, which refuses `alg: none` and any
// key-confusion trick; `exp` is required.
import { SignJWT, jwtVerify } from 'jose';
import { ROLES, type Role } from '../shared/domain.ts';
import type { TokenClaims } from '../shared/types.ts';
import { AppError } from './errors.ts';

export interface Auth {
  verify(token: string | undefined): Promise<TokenClaims>;
  sign(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
}

export function createAuth(secret: string): Auth {
  const key = new TextEncoder().encode(secret);
  return {
    async verify(token) {
      if (!token || token.length > 4096) throw new AppError('unauthorized', 'missing token');
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] });
        const role = payload.role;
        if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 100
          || typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
          throw new AppError('unauthorized', 'token lacks a valid sub or role');
        }
        return { sub: payload.sub, role: role as Role };
      } catch (e) {
        if (e instanceof AppError) throw e;
        throw new AppError('unauthorized', 'invalid or expired token', { cause: e });
      }
    },
    async sign(claims, ttlSeconds = 12 * 3600) {
      return new SignJWT({ role: claims.role })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key);
    },
  };
}

export function requireRole(claims: TokenClaims, ...roles: Role[]): void {
  if (!roles.includes(claims.role)) throw new AppError('forbidden', `this needs role ${roles.join(' or ')}`);
}
