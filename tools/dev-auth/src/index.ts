/**
 * Dev sign-in: a tiny OpenID issuer for working offline, where Clerk's servers
 * cannot be reached. It signs short-lived RS256 JWTs for a few demo users and
 * serves the discovery document and JWKS Convex uses to verify them.
 *
 * Routes (all on 127.0.0.1, default port 3212):
 * - `GET /.well-known/openid-configuration` → `{ issuer, jwks_uri, … }`
 * - `GET /.well-known/jwks.json` → `{ keys: [<RS256 public JWK>] }`
 * - `GET /users` → `DevUser[]` (`{ id, name, email }`)
 * - `POST /token` `{ userId }` → `{ token, expiresAt }` (`expiresAt` in ms since
 *   the epoch). Claims: `iss` = this origin, `aud` = `"convex"`,
 *   `sub` = `dev_<userId>`, `name`, `email`, `email_verified`, `iat`, `exp`
 *   (10 minutes). 404 `{ error }` for an unknown user.
 *
 * CORS: any loopback origin (the Vite dev server) may call it.
 *
 * Convex only accepts these tokens where `convex/auth.config.ts` lists this
 * issuer, which it does only when `LOCAL_DEV_AUTH_ISSUER` is a loopback
 * origin; the local backend sets that variable. A cloud deployment cannot
 * reach loopback JWKS either, so dev tokens are never valid in production.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from "jose";
import getRawBody from "raw-body";

export type DevUser = { id: string; name: string; email: string };

export const DEMO_USERS: readonly DevUser[] = [
  { id: "ada", name: "Ada Lovelace", email: "ada@example.com" },
  { id: "grace", name: "Grace Hopper", email: "grace@example.com" },
  { id: "alan", name: "Alan Turing", email: "alan@example.com" },
];

/** The `aud` of every dev token; must equal `APPLICATION_ID` in `convex/auth.config.ts`. */
export const DEV_AUDIENCE = "convex";
export const DEFAULT_TOKEN_TTL_SECONDS = 600;

export type DevAuthOptions = {
  /** Port on 127.0.0.1; 0 picks a free one. Default 3212. */
  port?: number;
  /** Where to keep the private key (JWK). Without it a key is generated per process. */
  keyFile?: string;
  users?: readonly DevUser[];
  /** Token lifetime in seconds. Default 600. */
  tokenTtlSeconds?: number;
};

export type MintOptions = {
  /** Overrides for tests: lifetime in seconds (negative: already expired). */
  ttlSeconds?: number;
  audience?: string;
  issuer?: string;
};

export type DevAuth = {
  /** The issuer origin, e.g. `http://127.0.0.1:3212`; set it as `LOCAL_DEV_AUTH_ISSUER`. */
  issuer: string;
  port: number;
  users: readonly DevUser[];
  /** Signs a token for a user (demo user id, or any user object). */
  mintToken(user: string | DevUser, options?: MintOptions): Promise<{ token: string; expiresAt: number }>;
  close(): Promise<void>;
};

type KeyMaterial = { privateKey: CryptoKey; publicJwk: JWK; kid: string };

async function loadOrCreateKey(keyFile: string | undefined): Promise<KeyMaterial> {
  let privateJwk: JWK | undefined;
  if (keyFile && existsSync(keyFile)) {
    privateJwk = JSON.parse(readFileSync(keyFile, "utf8")) as JWK;
  }
  if (!privateJwk) {
    const pair = await generateKeyPair("RS256", { extractable: true, modulusLength: 2048 });
    privateJwk = await exportJWK(pair.privateKey);
    if (keyFile) {
      mkdirSync(dirname(keyFile), { recursive: true });
      writeFileSync(keyFile, JSON.stringify(privateJwk), { mode: 0o600 });
    }
  }
  const privateKey = (await importJWK({ ...privateJwk, alg: "RS256" }, "RS256")) as CryptoKey;
  const { kty, n, e } = privateJwk;
  const publicJwk: JWK = { kty, n, e };
  const kid = await calculateJwkThumbprint(publicJwk);
  return { privateKey, publicJwk: { ...publicJwk, kid, alg: "RS256", use: "sig" }, kid };
}

function isLoopbackOrigin(origin: string | undefined): origin is string {
  if (!origin) return false;
  try {
    const { hostname } = new URL(origin);
    return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
  } catch {
    return false;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await getRawBody(req, { limit: 64 * 1024 })).toString("utf8");
  return text ? (JSON.parse(text) as unknown) : {};
}

/** Starts the dev issuer on 127.0.0.1. */
export async function startDevAuth(options: DevAuthOptions = {}): Promise<DevAuth> {
  const users = options.users ?? DEMO_USERS;
  const ttl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const key = await loadOrCreateKey(options.keyFile);
  let issuer = "";

  const mintToken: DevAuth["mintToken"] = async (user, mint = {}) => {
    const found = typeof user === "string" ? users.find((u) => u.id === user) : user;
    if (!found) throw new Error(`unknown dev user ${JSON.stringify(user)}`);
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (mint.ttlSeconds ?? ttl);
    const token = await new SignJWT({ name: found.name, email: found.email, email_verified: true })
      .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
      .setIssuer(mint.issuer ?? issuer)
      .setAudience(mint.audience ?? DEV_AUDIENCE)
      .setSubject(`dev_${found.id}`)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    return { token, expiresAt: exp * 1000 };
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const origin = req.headers.origin;
    if (isLoopbackOrigin(origin)) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
      res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
      res.setHeader("access-control-allow-headers", "content-type");
      res.setHeader("access-control-max-age", "600");
    }
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    void (async () => {
      if (req.method === "OPTIONS") {
        res.statusCode = 204;
        res.end();
      } else if (req.method === "GET" && path === "/.well-known/openid-configuration") {
        send(res, 200, {
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          token_endpoint: `${issuer}/token`,
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        });
      } else if (req.method === "GET" && path === "/.well-known/jwks.json") {
        send(res, 200, { keys: [key.publicJwk] });
      } else if (req.method === "GET" && path === "/users") {
        send(res, 200, users);
      } else if (req.method === "POST" && path === "/token") {
        let body: unknown;
        try {
          body = await readJson(req);
        } catch {
          send(res, 400, { error: "Expected a JSON body { userId }" });
          return;
        }
        const userId = (body as { userId?: unknown } | null)?.userId;
        const user = typeof userId === "string" ? users.find((u) => u.id === userId) : undefined;
        if (!user) {
          send(res, 404, { error: `Unknown dev user ${JSON.stringify(userId)}` });
          return;
        }
        send(res, 200, await mintToken(user));
      } else {
        send(res, 404, { error: `No route ${req.method} ${path}` });
      }
    })().catch((e: unknown) => send(res, 500, { error: (e as Error).message }));
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3212, "127.0.0.1", () => {
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
  issuer = `http://127.0.0.1:${port}`;

  return {
    issuer,
    port,
    users,
    mintToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
