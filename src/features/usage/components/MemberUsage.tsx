import { useMutation, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { Skeleton } from "@/src/components/Skeleton";
import { useActiveAccount } from "@/src/features/org/hooks/useActiveAccount";
import { humanizeError } from "@/src/lib/errors";
import { formatCount, formatDate, tokens } from "@/src/lib/format";

type MemberRow = {
  memberKey: string;
  name: string | null;
  email: string | null;
  used: number;
  held: number;
  cap: number | null;
  isYou: boolean;
};

/**
 * /usage in an organisation: admins get "Usage by member" (`memberUsage.list`:
 * each member's tokens this period and last, their cap, and an editor for
 * it); members get their own usage and cap (`memberUsage.mine`). Nothing on
 * a personal account.
 */
export function MemberUsage() {
  const account = useActiveAccount();
  if (account?.status !== "ok" || account.kind !== "organization") return null;
  return account.role === "admin" ? <MemberUsageTable /> : <OwnMemberUsage />;
}

function memberLabel(m: Pick<MemberRow, "name" | "email" | "memberKey">): string {
  return m.name ?? m.email ?? "Former user";
}

function capLabel(cap: number | null): string {
  return cap === null ? "No cap" : tokens(cap);
}

/** The admins' table. */
export function MemberUsageTable() {
  const usage = useQuery(api.memberUsage.list);
  const [showPrevious, setShowPrevious] = useState(false);
  const period = showPrevious ? usage?.previous : usage?.current;
  return (
    <section className="card" aria-labelledby="member-usage-title" data-testid="member-usage">
      <div className="card-head">
        <h2 id="member-usage-title">Usage by member</h2>
        {usage?.previous ? (
          <button type="button" className="button button-ghost" onClick={() => setShowPrevious((p) => !p)} data-testid="member-usage-period-toggle">
            {showPrevious ? "Show this period" : "Show previous period"}
          </button>
        ) : null}
      </div>
      {usage === undefined ? (
        <Skeleton lines={3} label="Loading usage by member" />
      ) : usage === null || !period ? (
        <EmptyState title="Usage by member is for organisation admins" testId="member-usage-unavailable" />
      ) : (
        <>
          <p className="muted" data-testid="member-usage-period">
            {showPrevious ? "Previous period" : "This period"}
            {period.periodStart > 0 ? ` from ${formatDate(period.periodStart)}` : ""}
            {period.periodEnd !== null ? ` to ${formatDate(period.periodEnd)}` : ""}. Caps limit what each member may use and
            reserve per period, within the organisation's balance.
          </p>
          {period.members.length === 0 ? (
            <EmptyState title="No member has used tokens this period" testId="member-usage-empty" />
          ) : (
            <div className="table-wrap">
              <table className="table member-usage-table">
                <caption className="sr-only">Tokens used per member</caption>
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col" className="num">
                      Used
                    </th>
                    <th scope="col" className="num">
                      Cap
                    </th>
                    {showPrevious ? null : <th scope="col">Edit cap</th>}
                  </tr>
                </thead>
                <tbody>
                  {period.members.map((m) => (
                    <tr key={m.memberKey} data-testid="member-usage-row" data-member-key={m.memberKey}>
                      <td data-label="Member">
                        <span data-testid="member-usage-name">
                          {memberLabel(m)}
                          {m.isYou ? " (you)" : ""}
                        </span>
                        {m.email && m.name ? <span className="usage-subline muted">{m.email}</span> : null}
                      </td>
                      <td data-label="Used" className="num">
                        <span data-testid="member-usage-used" data-used={m.used}>
                          {formatCount(m.used)}
                        </span>
                        {m.held > 0 ? (
                          <span className="usage-subline muted" data-testid="member-usage-held">
                            {formatCount(m.held)} reserved
                          </span>
                        ) : null}
                      </td>
                      <td data-label="Cap" className="num" data-testid="member-usage-cap">
                        {capLabel(m.cap)}
                      </td>
                      {showPrevious ? null : (
                        <td data-label="Edit cap">
                          <CapEditor member={m} />
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {period.truncated ? (
            <p className="muted" data-testid="member-usage-truncated">
              Showing the first {period.members.length} members.
            </p>
          ) : null}
        </>
      )}
    </section>
  );
}

/** Sets or removes one member's cap (`memberUsage.setCap`), with a toast for the result. */
function CapEditor({ member }: { member: MemberRow }) {
  const setCap = useMutation(api.memberUsage.setCap);
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(member.cap === null ? "" : String(member.cap));
  const [saving, setSaving] = useState(false);
  const label = memberLabel(member);

  async function save(capTokens: number | null) {
    setSaving(true);
    try {
      await setCap({ memberKey: member.memberKey, capTokens });
      toast.success(capTokens === null ? `Removed ${label}'s cap` : `${label} can use up to ${tokens(capTokens)} a period`);
      setEditing(false);
    } catch (error) {
      const human = humanizeError(error);
      toast.error(`Couldn't change ${label}'s cap`, { description: human.description ?? human.title });
    } finally {
      setSaving(false);
    }
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    const trimmed = value.trim();
    if (trimmed === "") return void save(null);
    const cap = Number(trimmed);
    if (!Number.isSafeInteger(cap) || cap < 0) {
      toast.error("Enter a whole number of tokens", { description: "Leave it empty for no cap." });
      return;
    }
    void save(cap);
  }

  if (!editing) {
    return (
      <button
        type="button"
        className="button button-ghost"
        onClick={() => {
          setValue(member.cap === null ? "" : String(member.cap));
          setEditing(true);
        }}
        data-testid="member-cap-edit"
        aria-label={`Edit ${label}'s cap`}
      >
        Edit cap
      </button>
    );
  }
  return (
    <form className="member-cap-form" onSubmit={onSubmit} data-testid="member-cap-form">
      <label className="sr-only" htmlFor={`cap-${member.memberKey}`}>
        {label}'s cap in tokens per period
      </label>
      <input
        id={`cap-${member.memberKey}`}
        type="number"
        min={0}
        step={1}
        inputMode="numeric"
        placeholder="No cap"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        disabled={saving}
        data-testid="member-cap-input"
      />
      <button type="submit" className="button button-primary" disabled={saving} data-testid="member-cap-save">
        {saving ? "Saving…" : "Save"}
      </button>
      {member.cap !== null ? (
        <button type="button" className="button button-ghost" disabled={saving} onClick={() => void save(null)} data-testid="member-cap-remove">
          Remove cap
        </button>
      ) : null}
      <button type="button" className="button button-ghost" disabled={saving} onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}

/** A member's own usage of the organisation's tokens and their cap. */
export function OwnMemberUsage() {
  const mine = useQuery(api.memberUsage.mine);
  if (mine === null) return null;
  return (
    <section className="card" aria-labelledby="member-own-usage-title" data-testid="member-own-usage">
      <div className="card-head">
        <h2 id="member-own-usage-title">Your usage this period</h2>
      </div>
      {mine === undefined ? (
        <Skeleton lines={1} label="Loading your usage" />
      ) : (
        <p data-testid="member-own-usage-text" data-used={mine.used} data-cap={mine.cap ?? ""}>
          {mine.cap === null
            ? `You've used ${tokens(mine.used)} of the organisation's tokens this period.`
            : `You've used ${formatCount(mine.used)} of your ${tokens(mine.cap)} limit this period.`}
          {mine.cap !== null && mine.used + mine.held >= mine.cap ? (
            <strong className="member-cap-reached" data-testid="member-cap-reached">
              {" "}
              You've reached your limit; ask an organisation admin to raise it.
            </strong>
          ) : null}
        </p>
      )}
    </section>
  );
}
