import "../notifications.css";
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { humanizeError } from "@/src/lib/errors";
import { NotificationSettings } from "./NotificationSettings";

/** "99+" past 99 (the server counts up to 100). */
export function badgeText(count: number): string {
  return count > 99 ? "99+" : String(count);
}

function when(ms: number): string {
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(ms);
}

/**
 * The header bell: the live unread count as a badge, and a panel with the
 * account's notifications newest first (links to act on, mark read, mark all
 * read, load more) and the email settings. Signed-in only (Layout).
 */
export function NotificationBell() {
  const count = useQuery(api.notifications.unreadCount);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    const onClick = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open]);

  const unread = count ?? 0;
  return (
    <div className="notification-bell" ref={ref}>
      <button
        type="button"
        className="bell-button"
        data-testid="notification-bell"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-label={unread > 0 ? `Notifications, ${badgeText(unread)} unread` : "Notifications"}
        onClick={() => setOpen((o) => !o)}
      >
        {/* An inline icon: an emoji bell needs a colour-emoji font, which not every system has. */}
        <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        {unread > 0 ? (
          <span className="bell-badge" data-testid="notification-count">
            {badgeText(unread)}
          </span>
        ) : null}
      </button>
      {open ? <NotificationPanel unread={unread} onNavigate={() => setOpen(false)} /> : null}
    </div>
  );
}

function NotificationPanel({ unread, onNavigate }: { unread: number; onNavigate: () => void }) {
  const { results, status, loadMore } = usePaginatedQuery(api.notifications.list, {}, { initialNumItems: 10 });
  const markRead = useMutation(api.notifications.markRead);
  const markAllRead = useMutation(api.notifications.markAllRead);
  const [settings, setSettings] = useState(false);

  const run = async (work: () => Promise<unknown>, done?: string) => {
    try {
      await work();
      if (done) toast.success(done);
    } catch (error) {
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    }
  };

  return (
    <div className="notification-panel" role="dialog" aria-label="Notifications" data-testid="notification-panel">
      <div className="notification-panel-head">
        <strong>Notifications</strong>
        <div className="notification-panel-actions">
          <button type="button" className="link-button" onClick={() => setSettings((s) => !s)} data-testid="notification-settings-toggle">
            {settings ? "Back" : "Email settings"}
          </button>
          {unread > 0 && !settings ? (
            <button type="button" className="link-button" data-testid="notification-mark-all" onClick={() => void run(() => markAllRead({}), "All marked read")}>
              Mark all read
            </button>
          ) : null}
        </div>
      </div>
      {settings ? (
        <NotificationSettings />
      ) : status === "LoadingFirstPage" ? (
        <p className="muted" data-testid="notification-loading">
          Loading notifications…
        </p>
      ) : results.length === 0 ? (
        <p className="muted" data-testid="notification-empty">
          No notifications yet. Payment problems, plan changes, refunds and usage alerts show up here.
        </p>
      ) : (
        <ul className="notification-list">
          {results.map((n) => (
            <li
              key={n.id}
              className={`notification-item${n.readAt === undefined ? " is-unread" : ""}${n.critical ? " is-critical" : ""}`}
              data-testid="notification-item"
              data-kind={n.kind}
              data-read={n.readAt !== undefined}
            >
              <div className="notification-title">{n.title}</div>
              <div className="notification-body">{n.body}</div>
              <div className="notification-meta">
                <span className="muted">{when(n.createdAt)}</span>
                {n.link ? (
                  n.link.startsWith("/") ? (
                    <Link to={n.link} onClick={() => { void run(() => markRead({ id: n.id })); onNavigate(); }}>
                      Open
                    </Link>
                  ) : (
                    <a href={n.link} target="_blank" rel="noreferrer" onClick={() => void run(() => markRead({ id: n.id }))}>
                      Open
                    </a>
                  )
                ) : null}
                {n.readAt === undefined ? (
                  <button type="button" className="link-button" data-testid="notification-mark-read" onClick={() => void run(() => markRead({ id: n.id }))}>
                    Mark read
                  </button>
                ) : null}
              </div>
            </li>
          ))}
        </ul>
      )}
      {!settings && status === "CanLoadMore" ? (
        <button type="button" className="link-button" onClick={() => loadMore(10)}>
          Load more
        </button>
      ) : null}
    </div>
  );
}
