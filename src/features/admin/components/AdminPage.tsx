import { useSearchParams } from "react-router-dom";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { AccountsList } from "./AccountsList";
import { AuditLogTable } from "./AuditLogTable";
import { QueueHealthPanel } from "./QueueHealthPanel";
import { StaffGate } from "./StaffGate";
import "../admin.css";

const TABS = [
  { id: "accounts", label: "Accounts" },
  { id: "queue", label: "Queue health" },
  { id: "audit", label: "Audit log" },
] as const;
type TabId = (typeof TABS)[number]["id"];

function isTab(value: string | null): value is TabId {
  return TABS.some((t) => t.id === value);
}

/**
 * /admin (staff only, `admin.me`): the operator console. Tabs (kept in
 * `?tab=`): the accounts list, the Stripe event queue's health, and the
 * global audit log. Non-staff see "Staff only" and no data.
 */
export function AdminPage() {
  return (
    <StaffGate>
      <AdminConsole />
    </StaffGate>
  );
}

function AdminConsole() {
  const [params, setParams] = useSearchParams();
  const raw = params.get("tab");
  const tab: TabId = isTab(raw) ? raw : "accounts";
  const select = (id: TabId) => setParams(id === "accounts" ? {} : { tab: id });
  return (
    <div className="stack admin-page" data-testid="admin-console">
      <div>
        <h1>Operator console</h1>
        <p className="muted">Every account's billing state, the Stripe event queue, and the audit log. Every action asks for a reason and is audited.</p>
      </div>
      <div className="admin-tabs" role="tablist" aria-label="Console sections">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`admin-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`admin-panel-${t.id}`}
            className={`admin-tab${tab === t.id ? " admin-tab-active" : ""}`}
            onClick={() => select(t.id)}
            data-testid={`admin-tab-${t.id}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`admin-panel-${tab}`} aria-labelledby={`admin-tab-${tab}`}>
        <ErrorBoundary resetKey={tab}>
          {tab === "accounts" ? <AccountsList /> : tab === "queue" ? <QueueHealthPanel /> : <AuditLogTable />}
        </ErrorBoundary>
      </div>
    </div>
  );
}
