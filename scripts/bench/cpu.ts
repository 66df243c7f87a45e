// CPU per process over a window, from /proc (Linux): utime + stime of each process
// (all its threads), read before and after. Postgres is every process named `postgres`
// summed, plus the postmaster's cutime + cstime: a backend that exits during the window
// is reaped by the postmaster, so its CPU moves there instead of vanishing. Figures are
// % of one core (200% = both cores of this machine).
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICKS_PER_S = (() => {
  try { return Number(execSync('getconf CLK_TCK').toString().trim()) || 100; } catch { return 100; }
})();

interface Stat { comm: string; ppid: number; own: number; children: number }

function stat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces: the fields start after the last ')'.
    const close = text.lastIndexOf(')');
    const f = text.slice(close + 2).split(' ');
    // After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    return { comm: text.slice(text.indexOf('(') + 1, close), ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null; // gone
  }
}

function named(comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (stat(Number(d))?.comm === comm) out.push(Number(d));
  }
  return out;
}

/** Ticks used by a group of processes so far; a process that is gone counts 0. */
function ticks(pids: number[]): number {
  return pids.reduce((n, pid) => n + (stat(pid)?.own ?? 0), 0);
}

function postgresTicks(): number {
  const pids = named('postgres');
  const set = new Set(pids);
  let n = 0;
  for (const pid of pids) {
    const s = stat(pid);
    if (!s) continue;
    n += s.own;
    if (!set.has(s.ppid)) n += s.children; // the postmaster: its reaped backends
  }
  return n;
}

/**
 * Busy and total ticks of the whole machine (/proc/stat's first line), and interrupt
 * time: loopback traffic is mostly softirq work no process's utime/stime shows.
 */
function machine(): { busy: number; all: number; irq: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return { busy: all - f[3]! - f[4]!, all, irq: f[5]! + f[6]! };
}

export interface CpuGroups { server: number[]; generators: number[] }

type Reading = { at: number; server: number; generators: number; postgres: number; redis: number; bench: number; machine: { busy: number; all: number; irq: number } };

function read(g: CpuGroups): Reading {
  return {
    at: performance.now(), server: ticks(g.server), generators: ticks(g.generators), postgres: postgresTicks(),
    redis: ticks(named('redis-server')), bench: ticks([process.pid]), machine: machine(),
  };
}

export interface CpuShare { server: number; generators: number; postgres: number; redis: number; bench: number; irq: number; machineBusy: number; seconds: number }

/** Starts a window; `end()` gives each group's CPU over it, in % of one core. */
export function cpuWindow(g: CpuGroups): { end(): CpuShare } {
  const a = read(g);
  return {
    end() {
      const b = read(g);
      const seconds = (b.at - a.at) / 1000;
      const pct = (k: 'server' | 'generators' | 'postgres' | 'redis' | 'bench') => ((b[k] - a[k]) / TICKS_PER_S / seconds) * 100;
      const all = b.machine.all - a.machine.all;
      // /proc/stat counts every core: shares of all of them, written as % of one core too.
      const machinePct = (k: 'busy' | 'irq') => (all > 0 ? ((b.machine[k] - a.machine[k]) / all) * 100 * cpus().length : NaN);
      return {
        server: pct('server'), generators: pct('generators'), postgres: pct('postgres'), redis: pct('redis'), bench: pct('bench'),
        irq: machinePct('irq'), machineBusy: machinePct('busy'), seconds,
      };
    },
  };
}

/** The machine's busy share not accounted for by the processes above: someone else's work on this machine. */
export const othersShare = (c: CpuShare) => Math.max(0, c.machineBusy - c.server - c.generators - c.postgres - c.redis - c.bench - c.irq);

export function formatCpu(c: CpuShare): string {
  const p = (x: number) => `${Math.round(x)}%`;
  return `server ${p(c.server)}, load generators ${p(c.generators)}, Postgres (every backend on the instance) ${p(c.postgres)}, Redis ${p(c.redis)}, `
    + `bench parent ${p(c.bench)}, interrupts (mostly loopback network) ${p(c.irq)}, everything else ${p(othersShare(c))}; machine ${p(c.machineBusy)} of ${cpus().length * 100}% (% of one core, over ${c.seconds.toFixed(1)} s)`;
}
