import { useQuery } from "convex/react";
import { useState } from "react";
import { api } from "@/convex/_generated/api";
import { WEBHOOK_EVENT_STATUSES } from "@/convex/billing/model/validators";
import { EmptyState } from "@/src/components/EmptyState";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount } from "@/src/lib/format";
import { formatAge, formatDateTime, statusLabel } from "../lib/format";
import type { QueueHealth } from "../lib/types";
import { ActionDialog, type ActionTarget } from "./ActionDialog";
import { StatusPill } from "./Pill";

/**
 * The Stripe event queue (`admin.queueHealth`): events by status, the age
 * of the oldest pending one, the dead events with their last error (each
 * replayable, or all at once), and the last reconciliation's result.
 */
export function QueueHealthPanel() {
  const health = useQuery(api.admin.queueHealth, {});
  const [replay, setReplay] = useState<ActionTarget | null>(null);
  return (
    <section className="card" aria-labelledby="admin-queue-title" data-testid="admin-queue">
      <div className="card-head">
        <h2 id="admin-queue-title">Queue health</h2>
        {health && health.dead.length > 0 ? (
          <button
            type="button"
            className="button button-secondary"
            onClick={() => setReplay({ label: "the queue", eventIds: health.dead.map((e) => e.eventId) })}
            data-testid="admin-queue-replay-all"
          >
            Replay all dead
          </button>
        ) : null}
      </div>
      {health === undefined ? <Skeleton lines={5} label="Loading queue health" /> : <QueueHealthBody health={health} onReplay={setReplay} />}
      {replay ? <ActionDialog kind="replay" target={replay} onClose={() => setReplay(null)} /> : null}
    </section>
  );
}

function QueueHealthBody({ health, onReplay }: { health: QueueHealth; onReplay: (target: ActionTarget) => void }) {
  const counts: Record<string, number | undefined> = health.counts;
  const capped = new Set(health.cappedStatuses);
  const statuses = [...WEBHOOK_EVENT_STATUSES, ...Object.keys(counts).filter((s) => !(WEBHOOK_EVENT_STATUSES as readonly string[]).includes(s))];
  const last = health.lastReconciliation;
  return (
    <div className="stack">
      <dl className="facts admin-counts" data-testid="admin-queue-counts">
        {statuses.map((status) => (
          <div key={status} data-testid="admin-queue-count" data-status={status}>
            <dt>{statusLabel(status)}</dt>
            <dd className={status === "dead" && (counts[status] ?? 0) > 0 ? "admin-danger" : undefined}>{formatCount(counts[status] ?? 0)}
              {capped.has(status) ? "+" : ""}
            </dd>
          </div>
        ))}
        <div data-testid="admin-queue-oldest">
          <dt>Oldest pending</dt>
          <dd>{health.oldestPendingAgeMs === null ? "None pending" : formatAge(health.oldestPendingAgeMs)}</dd>
        </div>
      </dl>
      <div data-testid="admin-queue-reconciliation">
        <h3 className="subheading">Last reconciliation</h3>
        {last ? (
          <p>
            {formatDateTime(last.ranAt)} · <span data-testid="admin-queue-reconciliation-result">{reconciliationText(last)}</span>
          </p>
        ) : (
          <p className="muted">No reconciliation has run yet.</p>
        )}
      </div>
      <div>
        <h3 className="subheading">Dead events</h3>
        {health.dead.length === 0 ? (
          <EmptyState title="No dead events" testId="admin-queue-dead-empty">
            Events that fail every retry land here with their last error.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table admin-table">
              <caption className="sr-only">Dead Stripe events</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Received</th>
                  <th scope="col">Last error</th>
                  <th scope="col" className="links">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {health.dead.map((event) => (
                  <tr key={event.eventId} data-testid="admin-queue-dead-row" data-event-id={event.eventId}>
                    <td data-label="Event">
                      <code className="admin-id">{event.eventId}</code>
                      <span className="admin-subline muted">{event.type}</span>
                    </td>
                    <td data-label="Received">{formatDateTime(event.receivedAt)}</td>
                    <td data-label="Last error" className="admin-error-text">
                      {event.lastError ?? "—"}
                    </td>
                    <td className="links">
                      <button
                        type="button"
                        className="button button-secondary"
                        onClick={() => onReplay({ label: event.eventId, eventIds: [event.eventId] })}
                        data-testid="admin-queue-replay"
                      >
                        Replay
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <p className="muted admin-statuses-note">
        <StatusPill status="pending" /> waiting for the worker · <StatusPill status="waiting" /> parked until another event lands ·{" "}
        <StatusPill status="dead" /> failed every retry
      </p>
    </div>
  );
}

/** "OK · 3 enqueued, 12 already known, 0 revived", or "Error: …". */
export function reconciliationText(last: NonNullable<QueueHealth["lastReconciliation"]>): string {
  if (last.result !== "ok") return `Error: ${last.error ?? statusLabel(last.result)}`;
  return `OK · ${formatCount(last.enqueued)} enqueued, ${formatCount(last.alreadyKnown)} already known, ${formatCount(last.revived)} revived`;
}
