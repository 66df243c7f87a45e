// The three Socket.IO namespaces, typed by shared/events.ts, and their room names.
import type { Namespace, Server } from 'socket.io';
import type {
  CivilianClientEvents, CivilianServerEvents, DispatchClientEvents, DispatchServerEvents,
  HeroClientEvents, HeroServerEvents,
} from '../../shared/events.ts';
import type { TokenClaims } from '../../shared/types.ts';

export interface SocketData { claims: TokenClaims }

export type HeroNamespace = Namespace<HeroClientEvents, HeroServerEvents, Record<string, never>, SocketData>;
export type CivilianNamespace = Namespace<CivilianClientEvents, CivilianServerEvents, Record<string, never>, SocketData>;
export type DispatchNamespace = Namespace<DispatchClientEvents, DispatchServerEvents, Record<string, never>, SocketData>;

export interface Namespaces {
  hero: HeroNamespace;
  civilian: CivilianNamespace;
  dispatch: DispatchNamespace;
}

export const rooms = {
  hero: (id: string) => `hero:${id}`,
  civilian: (id: string) => `civilian:${id}`,
  dispatchers: 'dispatchers',
};

export function namespacesOf(io: Server): Namespaces {
  return {
    hero: io.of('/hero') as unknown as HeroNamespace,
    civilian: io.of('/civilian') as unknown as CivilianNamespace,
    dispatch: io.of('/dispatch') as unknown as DispatchNamespace,
  };
}
