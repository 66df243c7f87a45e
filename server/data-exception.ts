// Postgres "data exceptions" (SQLSTATE class 22: invalid text representation, bad
// byte sequence, value too long, out of range…) are what input the schemas did not
// foresee looks like by the time it reaches the database. They are the client's
// fault, so they are answered `invalid`, never `internal`.

const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

/** A Postgres data exception (class 22), itself or as the direct cause of another error. */
export function isDataException(e: unknown): boolean {
  for (let err = e, depth = 0; err && depth < 3; err = (err as { cause?: unknown }).cause, depth++) {
    const { name, code } = err as { name?: unknown; code?: unknown };
    if (name === 'PostgresError' && typeof code === 'string' && DATA_EXCEPTION.test(code)) return true;
  }
  return false;
}
