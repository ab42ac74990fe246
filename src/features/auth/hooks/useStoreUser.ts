import { useConvexAuth, useMutation } from "convex/react";
import { useEffect, useRef } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { humanizeError } from "@/src/lib/errors";
import { useSession } from "@/src/lib/session";

/**
 * Calls `users.store` once per signed-in identity, after Convex has confirmed
 * the token (`isAuthenticated`), so the user, billing account and free token
 * balance exist before anything reads them. `users.store` is idempotent, so a
 * second call after sign-out/sign-in is harmless.
 */
export function useStoreUser(): void {
  const { isAuthenticated } = useConvexAuth();
  const { identityKey } = useSession();
  const storeUser = useMutation(api.users.store);
  const storedFor = useRef<string | null>(null);

  useEffect(() => {
    if (!isAuthenticated || !identityKey) {
      storedFor.current = null;
      return;
    }
    if (storedFor.current === identityKey) return;
    storedFor.current = identityKey;
    storeUser().catch((error: unknown) => {
      // Let a later auth change retry.
      if (storedFor.current === identityKey) storedFor.current = null;
      const human = humanizeError(error);
      toast.error("Couldn't set up your account", { id: "store-user", description: human.description ?? human.title });
    });
  }, [identityKey, isAuthenticated, storeUser]);
}

/** Renders nothing; mounts useStoreUser inside the providers. */
export function StoreUser() {
  useStoreUser();
  return null;
}
