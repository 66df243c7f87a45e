// Which page origins may open Socket.IO connections: the page's own (the Origin's
// host is the request's Host) and those listed in CORS_ORIGINS. A request without an
// Origin header is not from a browser page (native apps, socket.io-client in Node),
// so there is nothing a page could be abusing and it is allowed.
const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

function parse(origin: string): URL | null {
  try {
    return new URL(origin);
  } catch {
    return null;
  }
}

export interface OriginPolicy {
  allowed(origin: string | undefined, host: string | undefined): boolean;
}

export function originPolicy(corsOrigins: string): OriginPolicy {
  const listed = new Set(corsOrigins.split(',').map((s) => s.trim()).filter(Boolean)
    .map((s) => parse(s)?.origin).filter((s): s is string => !!s && s !== 'null'));
  return {
    allowed(origin, host) {
      if (origin === undefined) return true;
      const url = parse(origin);
      if (!url || url.origin === 'null') return false;
      if (listed.has(url.origin)) return true;
      const own = host ? parse(`http://${host}`) : null;
      if (!own || own.hostname !== url.hostname) return false;
      // A Host without a port (a proxy passing `$host`) matches the hostname alone.
      return !own.port || own.port === (url.port || DEFAULT_PORT[url.protocol]);
    },
  };
}
