// `--baseline REF`: a tree of git ref REF beside this one, for servers started from it
// (scripts/start.ts with that tree as cwd). `git archive` reads the object store only:
// the working tree and the index are never touched. node_modules is this repository's,
// linked (patch-package's patches are already applied there). The tree is removed
// when this process exits.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BaselineTree { ref: string; commit: string; root: string }

export function prepareBaseline(ref: string): BaselineTree {
  const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, timeout: 120_000 });
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`).toString().trim();
  const root = mkdtempSync(join(tmpdir(), `bench-baseline-${commit.slice(0, 8)}-`));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  execFileSync('tar', ['-x', '-C', root], { input: git('archive', '--format=tar', commit), maxBuffer: 1 << 30, timeout: 120_000 });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  if (!existsSync(join(root, 'scripts', 'start.ts'))) throw new Error(`${ref} (${commit}) has no scripts/start.ts to start a server from`);
  return { ref, commit, root };
}
