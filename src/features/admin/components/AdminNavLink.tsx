import { NavLink } from "react-router-dom";
import { useIsStaff } from "./StaffGate";

/** The header's console link, shown to staff only (`admin.me`). */
export function AdminNavLink({ to, label, end }: { to: string; label: string; end?: boolean }) {
  const isStaff = useIsStaff();
  if (!isStaff) return null;
  return (
    <NavLink to={to} end={end} data-testid="nav-admin">
      {label}
    </NavLink>
  );
}
