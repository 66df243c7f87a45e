// One check of the simulator's final report: passed or not, and why (checks.ts judges
// the run, burst-account.ts the burst).
export interface CheckResult { name: string; ok: boolean; detail: string }
