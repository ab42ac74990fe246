import { useConvexAuth, useQuery } from "convex/react";
import type { ReactNode } from "react";
import { api } from "@/convex/_generated/api";
import { SkeletonCard } from "@/src/components/Skeleton";

/**
 * Whether the signed-in user is staff (`admin.me`): undefined while loading
 * or while Convex checks the token, false when signed out.
 */
export function useIsStaff(): boolean | undefined {
  const { isAuthenticated, isLoading } = useConvexAuth();
  const me = useQuery(api.admin.me, isAuthenticated ? {} : "skip");
  if (isLoading) return undefined;
  if (!isAuthenticated) return false;
  return me?.isStaff;
}

/** What a non-staff user sees at /admin: no data, and why. */
export function StaffOnly() {
  return (
    <section className="card admin-staff-only" role="alert" data-testid="admin-staff-only">
      <h1>Staff only</h1>
      <p className="muted">
        The operator console is for support staff. If you need access, ask an administrator to add your user id to the staff list.
      </p>
    </section>
  );
}

/** Renders `children` for staff only: a skeleton while `admin.me` loads, "Staff only" otherwise. */
export function StaffGate({ children }: { children: ReactNode }) {
  const isStaff = useIsStaff();
  if (isStaff === undefined) return <SkeletonCard label="Checking access" lines={3} />;
  if (!isStaff) return <StaffOnly />;
  return <>{children}</>;
}
