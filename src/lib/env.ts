/**
 * Build-time configuration (Vite inlines `import.meta.env.VITE_*`).
 *
 * - `VITE_CLERK_PUBLISHABLE_KEY` set → Clerk sign-in; `VITE_CONVEX_URL` is then required.
 * - unset → dev sign-in against the local token issuer at `VITE_DEV_AUTH_URL`,
 *   and Convex defaults to the local backend.
 */
export const DEFAULT_DEV_CONVEX_URL = "http://127.0.0.1:3210";
export const DEFAULT_DEV_AUTH_URL = "http://127.0.0.1:3212";

export type AppConfig =
  | { mode: "clerk"; convexUrl: string | null; clerkPublishableKey: string }
  | { mode: "dev"; convexUrl: string; devAuthUrl: string };

export function readConfig(env: ImportMetaEnv = import.meta.env): AppConfig {
  const clerkKey = env.VITE_CLERK_PUBLISHABLE_KEY?.trim();
  const convexUrl = env.VITE_CONVEX_URL?.trim() || null;
  if (clerkKey) return { mode: "clerk", convexUrl, clerkPublishableKey: clerkKey };
  return {
    mode: "dev",
    convexUrl: convexUrl ?? DEFAULT_DEV_CONVEX_URL,
    devAuthUrl: (env.VITE_DEV_AUTH_URL?.trim() || DEFAULT_DEV_AUTH_URL).replace(/\/+$/, ""),
  };
}
