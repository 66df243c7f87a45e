// The ranking model on disk (issue 16): the one file of server/ranking/ that touches
// the file system. Loading never throws: a missing or broken file is "no model", with
// the reason for /readyz and the log, and dispatch falls back to the ETA order. Writing
// goes through a temporary file renamed into place, so a server loading while
// `npm run train` writes never reads half a model.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { modelAgeMs, parseModel, type RankingModel } from './model.ts';

export interface LoadedModel {
  model: RankingModel | null;
  /** Why there is no model (missing file, bad JSON, invalid model), or null. */
  error: string | null;
  /** Now minus the model's trainedAt; null without a model. */
  ageMs: number | null;
}

export function loadModelFile(path: string, now = Date.now()): LoadedModel {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { model: null, error: code === 'ENOENT' ? `no model file at ${path}` : `cannot read ${path}: ${(e as Error).message}`, ageMs: null };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { model: null, error: `${path} is not JSON: ${(e as Error).message}`, ageMs: null };
  }
  try {
    const model = parseModel(json);
    return { model, error: null, ageMs: modelAgeMs(model, now) };
  } catch (e) {
    return { model: null, error: `${path}: ${(e as Error).message}`, ageMs: null };
  }
}

/** Writes the model as pretty JSON, atomically (a temporary file in the same folder, renamed). */
export function writeModelFile(path: string, model: RankingModel): void {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(model, null, 2)}\n`);
  renameSync(tmp, path);
}
