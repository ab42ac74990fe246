import { useId, useState, type FormEvent } from "react";
import { toast } from "sonner";
import { Dialog } from "@/src/components/Dialog";
import type { DevOrgRole } from "@/src/features/auth/hooks/devAuthClient";
import { useOrgControls, type DevOrgControls } from "@/src/features/org/orgControls";

const NEW_ORG = "__new__";

function roleLabel(role: DevOrgRole): string {
  return role === "org:admin" ? "admin" : "member";
}

/** Creates an organisation on the dev issuer: a name and the creator's role (dev only: Clerk makes creators admins). */
function NewOrgDialog({ controls, onClose }: { controls: DevOrgControls; onClose: () => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<DevOrgRole>("org:admin");
  const [busy, setBusy] = useState(false);
  const nameId = useId();
  const roleId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    controls.createOrg(name.trim(), role).then(onClose, (error: unknown) => {
      setBusy(false);
      console.warn("Dev sign-in: could not create the organisation", error);
      toast.error("Couldn't create the organisation", { description: "The dev sign-in server didn't answer." });
    });
  };

  return (
    <Dialog open onClose={onClose} title="New organisation" description="Dev sign-in: choose a name and your role in it." testId="new-org-dialog" size="sm">
      <form className="stack-sm field" onSubmit={submit}>
        <label htmlFor={nameId}>Name</label>
        <input id={nameId} data-testid="new-org-name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} required />
        <label htmlFor={roleId}>Your role</label>
        <select id={roleId} data-testid="new-org-role" value={role} onChange={(e) => setRole(e.target.value as DevOrgRole)}>
          <option value="org:admin">Admin: manages billing</option>
          <option value="org:member">Member: uses tokens</option>
        </select>
        <button type="submit" className="button button-primary" data-testid="new-org-create" disabled={busy || !name.trim()}>
          Create and switch
        </button>
      </form>
    </Dialog>
  );
}

/** The dev sign-in's switcher: the personal account or one of the user's organisations, and "New organisation…". */
function DevOrgSwitcher({ controls }: { controls: DevOrgControls }) {
  const [creating, setCreating] = useState(false);
  const id = useId();
  return (
    <span className="field org-switcher">
      <label htmlFor={id} className="sr-only">
        Account
      </label>
      <select
        id={id}
        data-testid="org-switcher"
        value={controls.activeOrgId ?? ""}
        onChange={(event) => {
          const value = event.target.value;
          if (value === NEW_ORG) setCreating(true);
          else controls.switchTo(value || null);
        }}
      >
        <option value="">Personal account</option>
        {controls.orgs.map((org) => (
          <option key={org.id} value={org.id}>
            {org.name} ({roleLabel(org.role)})
          </option>
        ))}
        <option value={NEW_ORG}>New organisation…</option>
      </select>
      {creating ? <NewOrgDialog controls={controls} onClose={() => setCreating(false)} /> : null}
    </span>
  );
}

/**
 * The header's account switcher: Clerk's `<OrganizationSwitcher>` with Clerk
 * keys, else the dev sign-in's. Nothing outside an auth provider.
 */
export function OrgSwitcher() {
  const controls = useOrgControls();
  if (!controls) return null;
  if (controls.mode === "clerk") return <controls.Switcher />;
  return <DevOrgSwitcher controls={controls} />;
}
