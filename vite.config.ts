import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig, type Alias, type Plugin } from "vite";

/**
 * `@/` is the repository root, so the client imports the backend's generated
 * API as `@/convex/_generated/api` and its own modules as `@/src/...`
 * (tsconfig.json `paths` says the same for TypeScript; vitest.config.ts's
 * `ui` project reuses this alias).
 */
export const rootAlias: Alias = { find: /^@\//, replacement: fileURLToPath(new URL("./", import.meta.url)) };

/**
 * A production build signs in with Clerk. Without `VITE_CLERK_PUBLISHABLE_KEY`
 * the client falls back to the offline dev sign-in (pick any demo user, no
 * password), which must never be deployed, so `vite build` stops here unless
 * `VITE_DEV_SIGN_IN=1` says the build is for the local demo or bench on
 * purpose. With Clerk, `VITE_CONVEX_URL` is required too (docs/UI.md).
 * `vite` (the dev server) is not affected.
 */
function requireDeployableSignIn(): Plugin {
  return {
    name: "require-deployable-sign-in",
    apply: "build",
    configResolved({ env }) {
      // `env` holds the VITE_* variables from .env files and process.env, as the client will see them.
      const value = (name: string) => (typeof env[name] === "string" ? env[name].trim() : "");
      if (value("VITE_CLERK_PUBLISHABLE_KEY")) {
        if (!value("VITE_CONVEX_URL")) {
          throw new Error("vite build: VITE_CLERK_PUBLISHABLE_KEY is set but VITE_CONVEX_URL is not. Set the Convex deployment URL (npx convex dev writes it to .env.local).");
        }
        return;
      }
      if (value("VITE_DEV_SIGN_IN") === "1") return;
      throw new Error(
        "vite build: VITE_CLERK_PUBLISHABLE_KEY is not set, so this build would ship the offline dev sign-in " +
          "(anyone can sign in as any demo user). Set VITE_CLERK_PUBLISHABLE_KEY and VITE_CONVEX_URL for a deployable build, " +
          "or set VITE_DEV_SIGN_IN=1 to build the local demo on purpose (README, \"Setup with real keys\").",
      );
    },
  };
}

export default defineConfig({
  plugins: [react(), requireDeployableSignIn()],
  resolve: { alias: [rootAlias] },
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
});
