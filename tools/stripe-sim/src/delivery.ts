/**
 * Webhook delivery: signs each event as Stripe does and POSTs it to every
 * subscribed endpoint, one delivery at a time in creation order, retrying
 * non-2xx answers and connection errors after `config.retryDelaysMs`.
 *
 * Signature (stripe-node `src/Webhooks.ts`): header
 * `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * produced here with the SDK's own `webhooks.generateTestHeaderString`, so a
 * receiver verifying with `stripe.webhooks.constructEvent` accepts it.
 *
 * Chaos (config.chaos) bends the order and count of deliveries to exercise
 * receivers: duplicates, shuffled batches, delays, dropped events. A dropped
 * event is never sent and stays `delivery_success=false` in `/v1/events`.
 */
import Stripe from "stripe";
import type { SimContext } from "./context.ts";
import { newId } from "./ids.ts";
import type { DeliveryRecord } from "./store.ts";

type Job = { eventId: string; endpointId: string; attempt: number; duplicate: boolean };

export class Delivery {
  private ctx: SimContext | null = null;
  private batch: string[] = [];
  private flushScheduled = false;
  private queue: Job[] = [];
  private running = false;
  private timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private closed = false;
  private rngSeed: number | null = null;
  private rngState = 0;

  /** Chaos randomness: seeded (mulberry32) when `chaos.seed` is set, so runs repeat. */
  private random(): number {
    const seed = this.c.config.chaos.seed;
    if (seed === null || seed === undefined) return Math.random();
    if (seed !== this.rngSeed) {
      this.rngSeed = seed;
      this.rngState = seed >>> 0;
    }
    this.rngState = (this.rngState + 0x6d2b79f5) >>> 0;
    let t = this.rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  attach(ctx: SimContext): void {
    this.ctx = ctx;
  }

  private get c(): SimContext {
    if (!this.ctx) throw new Error("Delivery used before attach()");
    return this.ctx;
  }

  /** Queues an event; events queued in the same tick form one batch. */
  enqueue(eventId: string): void {
    this.batch.push(eventId);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Re-sends an event to every endpoint now (like `stripe events resend`). */
  resend(eventId: string): void {
    const status = this.c.store.state.eventDelivery[eventId] ?? {};
    for (const endpointId of Object.keys(status)) {
      this.queue.push({ eventId, endpointId, attempt: this.attemptsSoFar(eventId, endpointId) + 1, duplicate: false });
    }
    this.kick();
  }

  private attemptsSoFar(eventId: string, endpointId: string): number {
    return this.c.store.state.deliveries.filter(
      (d) => d.eventId === eventId && d.endpointId === endpointId && !d.duplicate,
    ).length;
  }

  private flush(): void {
    this.flushScheduled = false;
    const chaos = this.c.config.chaos;
    const batch = this.batch;
    this.batch = [];
    if (chaos.shuffle) shuffleInPlace(batch, () => this.random());
    for (const eventId of batch) {
      const event = this.c.store.state.events[eventId];
      if (!event) continue;
      const endpoints = Object.keys(this.c.store.state.eventDelivery[eventId] ?? {});
      if (this.shouldDrop(event.type)) {
        for (const endpointId of endpoints) this.recordDrop(eventId, event.type, endpointId);
        continue;
      }
      for (const endpointId of endpoints) {
        this.queue.push({ eventId, endpointId, attempt: 1, duplicate: false });
        if (chaos.duplicateRate > 0 && this.random() < chaos.duplicateRate) {
          this.queue.push({ eventId, endpointId, attempt: 1, duplicate: true });
        }
      }
    }
    this.kick();
  }

  private shouldDrop(type: string): boolean {
    const chaos = this.c.config.chaos;
    if (chaos.dropTypes.includes(type)) return true;
    if (chaos.dropNext > 0) {
      // Counting down is the one piece of config the simulator changes itself.
      this.c.config = { ...this.c.config, chaos: { ...chaos, dropNext: chaos.dropNext - 1 } };
      return true;
    }
    return chaos.dropRate > 0 && this.random() < chaos.dropRate;
  }

  private recordDrop(eventId: string, eventType: string, endpointId: string): void {
    const state = this.c.store.state;
    const ep = state.webhookEndpoints[endpointId];
    const status = state.eventDelivery[eventId];
    if (status) status[endpointId] = "dropped";
    state.deliveries.push({
      id: newId("whd"),
      eventId,
      eventType,
      endpointId,
      url: ep?.url ?? "",
      attempt: 0,
      duplicate: false,
      outcome: "dropped",
      httpStatus: null,
      error: "dropped by chaos config",
      at: Date.now(),
    });
    this.c.log(`webhook ${eventType} ${eventId} dropped (chaos)`);
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.work()
      .catch((err: unknown) => this.c.log(`delivery worker error: ${String(err)}`))
      .finally(() => {
        this.running = false;
        if (this.queue.length > 0 && !this.closed) this.kick();
      });
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const job = this.queue.shift();
      if (!job) break;
      const [min, max] = this.c.config.chaos.delayMs;
      const delay = min + this.random() * Math.max(0, max - min);
      if (delay > 0) await sleep(delay);
      this.inFlight++;
      try {
        await this.attempt(job);
      } finally {
        this.inFlight--;
      }
    }
  }

  private async attempt(job: Job): Promise<void> {
    const state = this.c.store.state;
    const event = state.events[job.eventId];
    const ep = state.webhookEndpoints[job.endpointId];
    if (!event || !ep) return;
    const payload = JSON.stringify(event, null, 2);
    const header = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: ep.secret,
      timestamp: Math.floor(Date.now() / 1000),
    });
    let httpStatus: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(ep.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": header,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          accept: "*/*; q=0.5, application/xml",
        },
        body: payload,
        signal: AbortSignal.timeout(this.c.config.deliveryTimeoutMs),
      });
      httpStatus = res.status;
      // Drain the body so the connection is reusable.
      await res.text().catch(() => "");
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const ok = httpStatus !== null && httpStatus >= 200 && httpStatus < 300;
    const record: DeliveryRecord = {
      id: newId("whd"),
      eventId: job.eventId,
      eventType: event.type,
      endpointId: job.endpointId,
      url: ep.url,
      attempt: job.attempt,
      duplicate: job.duplicate,
      outcome: ok ? "succeeded" : "failed",
      httpStatus,
      error,
      at: Date.now(),
    };
    // A reset while the request was in flight leaves this job orphaned.
    if (this.c.store.state !== state) return;
    state.deliveries.push(record);
    this.c.log(
      `webhook ${event.type} ${event.id} → ${ep.url} attempt ${job.attempt}${job.duplicate ? " (duplicate)" : ""}: ${httpStatus ?? error}`,
    );
    const status = state.eventDelivery[job.eventId] ?? {};
    if (ok) {
      if (status[job.endpointId] !== "succeeded") {
        status[job.endpointId] = "succeeded";
        event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
      }
      return;
    }
    if (job.duplicate || status[job.endpointId] === "succeeded") return;
    const retryIndex = job.attempt - 1;
    const delay = this.c.config.retryDelaysMs[retryIndex];
    if (delay === undefined) {
      status[job.endpointId] = "failed";
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.c.store.state !== state) return;
      this.queue.push({ ...job, attempt: job.attempt + 1 });
      this.kick();
    }, delay);
    this.timers.add(timer);
  }

  /** True when nothing is queued, in flight or waiting for a retry. */
  isIdle(): boolean {
    return (
      this.batch.length === 0 &&
      !this.flushScheduled &&
      this.queue.length === 0 &&
      this.inFlight === 0 &&
      !this.running &&
      this.timers.size === 0
    );
  }

  /** Resolves once idle (true) or after `timeoutMs` (false). */
  async waitForIdle(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isIdle()) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }

  /** Forgets queued work (used by reset). */
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue = [];
    this.batch = [];
  }

  close(): void {
    this.closed = true;
    this.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
}
