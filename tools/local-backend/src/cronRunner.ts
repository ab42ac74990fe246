/**
 * Runs the jobs of `convex/crons.ts` (its default `cronJobs()` export), and of
 * each installed component instance's own `crons.ts`, which convex-test does
 * not do (https://docs.convex.dev/scheduling/cron-jobs).
 *
 * A component's jobs run inside that component, as on a deployment: the
 * job's function (`internal.webhooks.sweepRetries` → `webhooks:sweepRetries`)
 * is resolved among the component's own modules, public or internal, and
 * runs against the component's tables with its declared env. Job names are
 * per component instance: a job is `(componentPath, name)`, `""` being the
 * app, so the app and a component may both have a job named `sweep`.
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
 * is not started while its previous run is still going. A failed run is
 * logged (`cron <name>[ in component <path>] (<udfPath>) failed: …`) and kept
 * in `history`; the job stays scheduled.
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

/**
 * One registered job. `componentPath` is `""` for the app's `crons.ts`, else
 * the component instance whose `crons.ts` registered it (`counter`,
 * `parent/child`); `udfPath` is relative to that component.
 */
export type CronJobSpec = { componentPath: string; name: string; udfPath: string; args: Record<string, Value>; schedule: Schedule };

/** One finished run of a job (`componentPath` as in CronJobSpec; times in ms). */
export type CronRun = { componentPath: string; name: string; startedAt: number; durationMs: number; ok: boolean; error?: string };

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** Reads the jobs registered by a `crons.ts` (an evaluated module) of the app or of the component at `componentPath`. */
export function readCronJobs(mod: Record<string, unknown> | null, componentPath = ""): CronJobSpec[] {
  const crons = (mod?.default as { crons?: Record<string, { name: string; args: unknown; schedule: Schedule }> } | undefined)?.crons;
  if (!crons) return [];
  return Object.entries(crons).map(([name, job]) => ({
    componentPath,
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

/** A job's identity: its name within its component. */
function jobKey(componentPath: string, name: string): string {
  return JSON.stringify([componentPath, name]);
}

/** `` for the app, ` in component counter` for a component instance (for messages). */
function inComponent(componentPath: string): string {
  return componentPath === "" ? "" : ` in component ${componentPath}`;
}

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

  /** Reads the app's `crons.ts`, then each component instance's (in install order). Throws what a module throws. */
  async load(): Promise<CronJobSpec[]> {
    const jobs: CronJobSpec[] = [];
    for (const componentPath of ["", ...this.engine.componentPaths()]) {
      if (this.engine.hasModule("crons", componentPath)) {
        jobs.push(...readCronJobs(await this.engine.loadModule("crons", componentPath), componentPath));
      }
    }
    this.jobs = jobs;
    return this.jobs;
  }

  /** Every job, app's first, with its next run (ms; null when not scheduled: manual mode or stopped). */
  list(): (CronJobSpec & { nextRunAt: number | null })[] {
    const now = Date.now();
    return this.jobs.map((job) => ({
      ...job,
      nextRunAt: this.timers.has(jobKey(job.componentPath, job.name)) ? nextRunAt(job.schedule, now, this.startedAt) : null,
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
      void this.run(job.name, job.componentPath).finally(() => this.arm(job));
    }, delay);
    timer.unref();
    this.timers.set(jobKey(job.componentPath, job.name), timer);
  }

  /**
   * Runs a job now (as its schedule would): the app's job `name`, or with
   * `componentPath` that component's. While the job is already running,
   * resolves with that run instead of starting another. Rejects for an
   * unknown job.
   */
  async run(name: string, componentPath = ""): Promise<CronRun> {
    const job = this.jobs.find((j) => j.componentPath === componentPath && j.name === name);
    if (!job) {
      const known = this.jobs.filter((j) => j.componentPath === componentPath).map((j) => j.name);
      throw new Error(`No cron job named ${JSON.stringify(name)}${inComponent(componentPath)}; known: ${known.join(", ") || "none"}`);
    }
    const key = jobKey(componentPath, name);
    const inFlight = this.running.get(key);
    if (inFlight) return await inFlight;
    const promise = this.execute(job).finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return await promise;
  }

  private async execute(job: CronJobSpec): Promise<CronRun> {
    const startedAt = Date.now();
    const { componentPath, name } = job;
    let run: CronRun;
    try {
      const fn = await this.engine.resolve(job.udfPath, componentPath);
      if (!fn || fn.kind === "query") throw new Error(`${job.udfPath} is not a mutation or action${inComponent(componentPath)}`);
      await this.engine.call(fn, job.args, null);
      run = { componentPath, name, startedAt, durationMs: Date.now() - startedAt, ok: true };
    } catch (e) {
      run = { componentPath, name, startedAt, durationMs: Date.now() - startedAt, ok: false, error: (e as Error).message };
      this.log(`cron ${name}${inComponent(componentPath)} (${job.udfPath}) failed: ${(e as Error).message}`);
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
