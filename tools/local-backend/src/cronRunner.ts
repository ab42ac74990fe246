/**
 * Runs the jobs of `convex/crons.ts` (its default `cronJobs()` export), which
 * convex-test does not do (https://docs.convex.dev/scheduling/cron-jobs).
 *
 * Schedules are UTC, as on a deployment:
 * - `interval` (`seconds` / `minutes` / `hours`): every N from backend start
 *   (the first run is one interval after start, not at start);
 * - `hourly`, `daily`, `weekly`, `monthly`: mapped to the equivalent cron line;
 * - `cron`: a five-field cron expression (minute hour day-of-month month
 *   day-of-week) with `*`, `a-b`, `a,b`, `*\/n`, `a-b/n`; day-of-week 0–7
 *   (0 and 7 are Sunday); when both day fields are restricted a day matches
 *   either, as in Vixie cron.
 *
 * Jobs run as the system (no identity), may be internal, and a job's next run
 * is not started while its previous run is still going.
 */
import type { Value } from "convex/values";
import { jsonToConvex } from "convex/values";
import type { Engine } from "./engine";

type Schedule =
  | { type: "cron"; cron: string }
  | { type: "interval"; seconds?: number; minutes?: number; hours?: number }
  | { type: "hourly"; minuteUTC?: number }
  | { type: "daily"; hourUTC: number; minuteUTC?: number }
  | { type: "weekly"; dayOfWeek: string; hourUTC: number; minuteUTC?: number }
  | { type: "monthly"; day: number; hourUTC: number; minuteUTC?: number };

export type CronJobSpec = { name: string; udfPath: string; args: Record<string, Value>; schedule: Schedule };

export type CronRun = { name: string; startedAt: number; durationMs: number; ok: boolean; error?: string };

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** Reads the jobs registered by `convex/crons.ts` (an evaluated module). */
export function readCronJobs(mod: Record<string, unknown> | null): CronJobSpec[] {
  const crons = (mod?.default as { crons?: Record<string, { name: string; args: unknown; schedule: Schedule }> } | undefined)?.crons;
  if (!crons) return [];
  return Object.entries(crons).map(([name, job]) => ({
    name,
    udfPath: job.name,
    args: (jsonToConvex((job.args as never[])[0] ?? {}) ?? {}) as Record<string, Value>,
    schedule: job.schedule,
  }));
}

type Field = { values: Set<number>; restricted: boolean };

function parseField(text: string, min: number, max: number, what: string): Field {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part.trim());
    if (!match) throw new Error(`invalid cron ${what} field: ${JSON.stringify(text)}`);
    const step = match[4] ? Number(match[4]) : 1;
    let lo = min;
    let hi = max;
    if (match[1] !== "*") {
      lo = Number(match[2]);
      hi = match[3] !== undefined ? Number(match[3]) : match[4] ? max : lo;
    }
    if (lo < min || hi > max || lo > hi || step < 1) throw new Error(`cron ${what} field out of range: ${JSON.stringify(text)}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, restricted: text.trim() !== "*" };
}

/** A parsed five-field cron expression; `next(after)` is the first matching minute after `after` (ms). */
export function parseCron(expression: string): { next(afterMs: number): number } {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`cron expression needs 5 fields: ${JSON.stringify(expression)}`);
  const [minute, hour, dom, month, dowRaw] = [
    parseField(fields[0]!, 0, 59, "minute"),
    parseField(fields[1]!, 0, 23, "hour"),
    parseField(fields[2]!, 1, 31, "day-of-month"),
    parseField(fields[3]!, 1, 12, "month"),
    parseField(fields[4]!, 0, 7, "day-of-week"),
  ];
  const dow = new Set([...dowRaw.values].map((d) => d % 7));
  const dayMatches = (d: Date) => {
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.has(d.getUTCDay());
    if (dom.restricted && dowRaw.restricted) return domOk || dowOk;
    return domOk && dowOk;
  };
  return {
    next(afterMs: number) {
      const d = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
      // Minute steps are cheap; four years covers every valid expression (Feb 29).
      for (let i = 0; i < 4 * 366 * 24 * 60; i++) {
        if (!month.values.has(d.getUTCMonth() + 1) || !dayMatches(d)) {
          d.setUTCHours(0, 0, 0, 0);
          d.setUTCDate(d.getUTCDate() + 1);
          continue;
        }
        if (!hour.values.has(d.getUTCHours())) {
          d.setUTCMinutes(0, 0, 0);
          d.setUTCHours(d.getUTCHours() + 1);
          continue;
        }
        if (minute.values.has(d.getUTCMinutes())) return d.getTime();
        d.setUTCMinutes(d.getUTCMinutes() + 1);
      }
      throw new Error(`cron expression never matches: ${JSON.stringify(expression)}`);
    },
  };
}

/** The cron line equivalent to a non-interval schedule. */
export function cronLineOf(schedule: Exclude<Schedule, { type: "interval" }>): string {
  switch (schedule.type) {
    case "cron":
      return schedule.cron;
    case "hourly":
      return `${schedule.minuteUTC ?? 0} * * * *`;
    case "daily":
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} * * *`;
    case "weekly":
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} * * ${DAYS.indexOf(schedule.dayOfWeek)}`;
    case "monthly":
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} ${schedule.day} * *`;
  }
}

/** The next run time (ms) of a schedule after `afterMs`; intervals count from `startedAt`. */
export function nextRunAt(schedule: Schedule, afterMs: number, startedAt: number): number {
  if (schedule.type === "interval") {
    const periodMs = ((schedule.seconds ?? 0) + (schedule.minutes ?? 0) * 60 + (schedule.hours ?? 0) * 3600) * 1000;
    if (periodMs <= 0) throw new Error("interval must be positive");
    const elapsed = Math.max(0, afterMs - startedAt);
    return startedAt + (Math.floor(elapsed / periodMs) + 1) * periodMs;
  }
  return parseCron(cronLineOf(schedule)).next(afterMs);
}

/** The largest delay setTimeout accepts; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class CronRunner {
  private jobs: CronJobSpec[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<CronRun>>();
  private readonly startedAt = Date.now();
  private stopped = false;
  readonly history: CronRun[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly onWrite: () => void,
    private readonly log: (line: string) => void,
  ) {}

  async load(): Promise<CronJobSpec[]> {
    this.jobs = this.engine.hasModule("crons") ? readCronJobs(await this.engine.loadModule("crons")) : [];
    return this.jobs;
  }

  list(): (CronJobSpec & { nextRunAt: number | null })[] {
    const now = Date.now();
    return this.jobs.map((job) => ({
      ...job,
      nextRunAt: this.timers.has(job.name) ? nextRunAt(job.schedule, now, this.startedAt) : null,
    }));
  }

  /** Arms a timer per job. */
  start() {
    for (const job of this.jobs) this.arm(job);
  }

  private arm(job: CronJobSpec) {
    if (this.stopped) return;
    const at = nextRunAt(job.schedule, Date.now(), this.startedAt);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now()));
    const timer = setTimeout(() => {
      if (Date.now() + 5 < at) {
        this.arm(job);
        return;
      }
      void this.run(job.name).finally(() => this.arm(job));
    }, delay);
    timer.unref();
    this.timers.set(job.name, timer);
  }

  /** Runs a job now (as its schedule would). Rejects for an unknown name. */
  async run(name: string): Promise<CronRun> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`No cron job named ${JSON.stringify(name)}; known: ${this.jobs.map((j) => j.name).join(", ") || "none"}`);
    const inFlight = this.running.get(name);
    if (inFlight) return await inFlight;
    const promise = this.execute(job).finally(() => this.running.delete(name));
    this.running.set(name, promise);
    return await promise;
  }

  private async execute(job: CronJobSpec): Promise<CronRun> {
    const startedAt = Date.now();
    let run: CronRun;
    try {
      const fn = await this.engine.resolve(job.udfPath);
      if (!fn || fn.kind === "query") throw new Error(`${job.udfPath} is not a mutation or action`);
      await this.engine.call(fn, job.args, null);
      run = { name: job.name, startedAt, durationMs: Date.now() - startedAt, ok: true };
    } catch (e) {
      run = { name: job.name, startedAt, durationMs: Date.now() - startedAt, ok: false, error: (e as Error).message };
      this.log(`cron ${job.name} (${job.udfPath}) failed: ${(e as Error).message}`);
    }
    this.history.push(run);
    if (this.history.length > 200) this.history.shift();
    this.onWrite();
    return run;
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
