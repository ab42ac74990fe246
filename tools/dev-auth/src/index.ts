/**
 * Dev sign-in: a tiny OpenID issuer for working offline, where Clerk's servers
 * cannot be reached. It signs short-lived RS256 JWTs for a few demo users and
 * serves the discovery document and JWKS Convex uses to verify them.
 *
 * Routes (all on 127.0.0.1, default port 3212):
 * - `GET /.well-known/openid-configuration` → `{ issuer, jwks_uri, … }`
 * - `GET /.well-known/jwks.json` → `{ keys: [<RS256 public JWK>] }`
 * - `GET /users` → `DevUser[]` (`{ id, name, email, organizations: { id, name,
 *   slug, role }[] }`)
 * - `POST /token` `{ userId, orgId? }` → `{ token, expiresAt }` (`expiresAt` in
 *   ms since the epoch). Claims: `iss` = this origin, `aud` = `"convex"`,
 *   `sub` = `dev_<userId>`, `name`, `email`, `email_verified`, `iat`, `exp`
 *   (10 minutes), and with `orgId` the active organisation as Clerk's
 *   `convex` JWT template carries it (the app's README): `org_id`,
 *   `org_role` (`org:admin` / `org:member`), `org_slug`, `org_name`.
 *   404 `{ error }` for an unknown user, 403 when the user is not a member
 *   of `orgId`.
 * - `POST /orgs` `{ userId, name, role? }` → the new organisation `{ id, name,
 *   slug, role }`, with the user as its first member (`role`, default
 *   `org:admin`). 400 without a name, 404 for an unknown user.
 * - `PUT /memberships` `{ orgId, userId, role }` → adds the user to the
 *   organisation or changes their role; `DELETE /memberships`
 *   `{ orgId, userId }` removes them. Both answer `{ ok: true, webhook }`;
 *   404 for an unknown organisation or user. Memberships live in memory.
 *
 * Clerk webhooks (offline stand-in for Clerk's dashboard endpoint): with a
 * target set (`clerkWebhook` option or `configureClerkWebhook`), every
 * membership change through these routes (`POST /orgs`, `PUT` / `DELETE
 * /memberships`) is POSTed to the target as Clerk sends it,
 * `organizationMembership.created` / `.updated` / `.deleted`, signed with
 * the svix scheme (`svix-id`, `svix-timestamp`, `svix-signature`) and the
 * target's `whsec_` secret. The route answers after the delivery, with
 * `webhook: { status }` (the target's HTTP status) or `{ error }`, or `null`
 * without a target.
 *
 * CORS: any loopback origin (the Vite dev server) may call it.
 *
 * Convex only accepts these tokens where `convex/auth.config.ts` lists this
 * issuer, which it does only when `LOCAL_DEV_AUTH_ISSUER` is a loopback
 * origin; the local backend sets that variable. A cloud deployment cannot
 * reach loopback JWKS either, so dev tokens are never valid in production.
 */
import { randomUUID } from "node:crypto";
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
import { Webhook } from "svix";

export type DevUser = { id: string; name: string; email: string };

export const DEMO_USERS: readonly DevUser[] = [
  { id: "ada", name: "Ada Lovelace", email: "ada@example.com" },
  { id: "grace", name: "Grace Hopper", email: "grace@example.com" },
  { id: "alan", name: "Alan Turing", email: "alan@example.com" },
  // Operator console staff: the demo and the e2e stack list `dev_sam` in STAFF_USER_IDS.
  { id: "sam", name: "Sam Staff", email: "sam@example.com" },
];

/** The dev sign-in's staff user's token subject, for `STAFF_USER_IDS` (docs/OPERATOR_CONSOLE.md). */
export const DEMO_STAFF_SUBJECT = "dev_sam";

/** Clerk's default organisation roles. */
export type DevOrgRole = "org:admin" | "org:member";
export type DevOrg = { id: string; name: string; slug: string };
export type DevMembership = { orgId: string; userId: string; role: DevOrgRole };
/** A user's organisation as `GET /users` lists it. */
export type DevUserOrg = DevOrg & { role: DevOrgRole };

/** The demo organisation: Ada is its admin, Grace a member. */
export const DEMO_ORGS: readonly DevOrg[] = [{ id: "org_dev_acme", name: "Acme Inc", slug: "acme" }];
export const DEMO_MEMBERSHIPS: readonly DevMembership[] = [
  { orgId: "org_dev_acme", userId: "ada", role: "org:admin" },
  { orgId: "org_dev_acme", userId: "grace", role: "org:member" },
];

function isRole(value: unknown): value is DevOrgRole {
  return value === "org:admin" || value === "org:member";
}

/** A URL-safe slug of an organisation name. */
export function slugOf(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "org"
  );
}

/** The `aud` of every dev token; must equal `APPLICATION_ID` in `convex/auth.config.ts`. */
export const DEV_AUDIENCE = "convex";
export const DEFAULT_TOKEN_TTL_SECONDS = 600;

export type DevAuthOptions = {
  /** Port on 127.0.0.1; 0 picks a free one. Default 3212. */
  port?: number;
  /** Where to keep the private key (JWK). Without it a key is generated per process. */
  keyFile?: string;
  users?: readonly DevUser[];
  /** Organisations and memberships to start with. Default `DEMO_ORGS` / `DEMO_MEMBERSHIPS`. */
  orgs?: readonly DevOrg[];
  memberships?: readonly DevMembership[];
  /** Token lifetime in seconds. Default 600. */
  tokenTtlSeconds?: number;
  /** Where to send Clerk-style membership webhooks (e.g. `<CONVEX_SITE_URL>/clerk/webhook`); none by default. */
  clerkWebhook?: ClerkWebhookTarget | null;
};

/** A Clerk webhook endpoint: its URL and its svix signing secret (`whsec_…`). */
export type ClerkWebhookTarget = { url: string; secret: string };

/** The Clerk membership event types the dev issuer sends. */
export type MembershipEventType = "organizationMembership.created" | "organizationMembership.updated" | "organizationMembership.deleted";

/** How a webhook delivery went: the endpoint's HTTP status, or the network error. */
export type WebhookDelivery = { type: MembershipEventType; status: number } | { type: MembershipEventType; error: string };

export type MintOptions = {
  /** Overrides for tests: lifetime in seconds (negative: already expired). */
  ttlSeconds?: number;
  audience?: string;
  issuer?: string;
  /** The active organisation; the user must be a member. */
  orgId?: string;
};

export type DevAuth = {
  /** The issuer origin, e.g. `http://127.0.0.1:3212`; set it as `LOCAL_DEV_AUTH_ISSUER`. */
  issuer: string;
  port: number;
  users: readonly DevUser[];
  /** Signs a token for a user (demo user id, or any user object). Throws for an `orgId` the user is not a member of. */
  mintToken(user: string | DevUser, options?: MintOptions): Promise<{ token: string; expiresAt: number }>;
  /** The user's organisations with their role. */
  orgsOf(userId: string): DevUserOrg[];
  /** Creates an organisation with `userId` as its first member (`role`, default admin). */
  createOrg(userId: string, name: string, role?: DevOrgRole): DevUserOrg;
  /** Adds `userId` to `orgId` or changes their role. Throws for an unknown organisation or user. */
  setMembership(orgId: string, userId: string, role: DevOrgRole): void;
  /** Removes `userId` from `orgId`. Returns whether they were a member. */
  removeMembership(orgId: string, userId: string): boolean;
  /** Sets (or clears) where membership webhooks go. */
  configureClerkWebhook(target: ClerkWebhookTarget | null): void;
  /**
   * Sends one signed Clerk membership webhook for `userId` in `orgId` to the
   * configured target and resolves with the delivery, or null without a target.
   */
  sendMembershipWebhook(type: MembershipEventType, orgId: string, userId: string, role: DevOrgRole): Promise<WebhookDelivery | null>;
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

/** A token was asked for an organisation the user is not a member of (HTTP 403). */
export class NotAMemberError extends Error {
  override name = "NotAMemberError";
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
  const orgs = new Map((options.orgs ?? DEMO_ORGS).map((o) => [o.id, { ...o }]));
  // `${orgId} ${userId}` → role
  const memberships = new Map((options.memberships ?? DEMO_MEMBERSHIPS).map((m) => [`${m.orgId} ${m.userId}`, m.role]));

  const orgsOf: DevAuth["orgsOf"] = (userId) =>
    [...orgs.values()].flatMap((org) => {
      const role = memberships.get(`${org.id} ${userId}`);
      return role ? [{ ...org, role }] : [];
    });

  const setMembership: DevAuth["setMembership"] = (orgId, userId, role) => {
    if (!orgs.has(orgId)) throw new Error(`unknown dev organisation ${JSON.stringify(orgId)}`);
    if (!users.some((u) => u.id === userId)) throw new Error(`unknown dev user ${JSON.stringify(userId)}`);
    memberships.set(`${orgId} ${userId}`, role);
  };

  const removeMembership: DevAuth["removeMembership"] = (orgId, userId) => memberships.delete(`${orgId} ${userId}`);

  let webhookTarget: ClerkWebhookTarget | null = options.clerkWebhook ?? null;
  const sendMembershipWebhook: DevAuth["sendMembershipWebhook"] = async (type, orgId, userId, role) => {
    if (!webhookTarget) return null;
    const org = orgs.get(orgId);
    const timestamp = Date.now();
    // The body Clerk sends (https://clerk.com/docs/webhooks/overview), with the fields the app reads.
    const body = JSON.stringify({
      type,
      object: "event",
      timestamp,
      data: {
        object: "organization_membership",
        id: `orgmem_${orgId}_${userId}`,
        role,
        created_at: timestamp,
        updated_at: timestamp,
        organization: { object: "organization", id: orgId, name: org?.name ?? orgId, slug: org?.slug ?? orgId },
        public_user_data: { user_id: `dev_${userId}`, identifier: users.find((u) => u.id === userId)?.email ?? userId },
      },
    });
    const msgId = `msg_dev_${randomUUID()}`;
    const at = new Date(timestamp);
    try {
      const response = await fetch(webhookTarget.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "svix-id": msgId,
          "svix-timestamp": String(Math.floor(timestamp / 1000)),
          "svix-signature": new Webhook(webhookTarget.secret).sign(msgId, at, body),
        },
        body,
      });
      await response.body?.cancel();
      return { type, status: response.status };
    } catch (e) {
      return { type, error: (e as Error).message };
    }
  };

  const createOrg: DevAuth["createOrg"] = (userId, name, role = "org:admin") => {
    const base = slugOf(name);
    let slug = base;
    for (let n = 2; [...orgs.values()].some((o) => o.slug === slug); n += 1) slug = `${base}-${n}`;
    const org: DevOrg = { id: `org_dev_${slug.replace(/-/g, "_")}`, name: name.trim(), slug };
    orgs.set(org.id, org);
    setMembership(org.id, userId, role);
    return { ...org, role };
  };

  const mintToken: DevAuth["mintToken"] = async (user, mint = {}) => {
    const found = typeof user === "string" ? users.find((u) => u.id === user) : user;
    if (!found) throw new Error(`unknown dev user ${JSON.stringify(user)}`);
    let orgClaims = {};
    if (mint.orgId !== undefined) {
      const org = orgs.get(mint.orgId);
      const role = memberships.get(`${mint.orgId} ${found.id}`);
      if (!org || !role) throw new NotAMemberError(`${found.id} is not a member of ${JSON.stringify(mint.orgId)}`);
      // The claims the app reads from Clerk's `convex` JWT template.
      orgClaims = { org_id: org.id, org_role: role, org_slug: org.slug, org_name: org.name };
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (mint.ttlSeconds ?? ttl);
    const token = await new SignJWT({ name: found.name, email: found.email, email_verified: true, ...orgClaims })
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
      res.setHeader("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
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
        send(res, 200, users.map((u) => ({ ...u, organizations: orgsOf(u.id) })));
      } else if ((req.method === "POST" || req.method === "PUT" || req.method === "DELETE") && ["/token", "/orgs", "/memberships"].includes(path)) {
        let body: Record<string, unknown>;
        try {
          const parsed = await readJson(req);
          body = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
        } catch {
          send(res, 400, { error: "Expected a JSON body" });
          return;
        }
        const user = typeof body.userId === "string" ? users.find((u) => u.id === body.userId) : undefined;
        if (!user) {
          send(res, 404, { error: `Unknown dev user ${JSON.stringify(body.userId)}` });
          return;
        }
        if (req.method === "POST" && path === "/token") {
          const orgId = typeof body.orgId === "string" && body.orgId ? body.orgId : undefined;
          try {
            send(res, 200, await mintToken(user, { orgId }));
          } catch (e) {
            if (!(e instanceof NotAMemberError)) throw e;
            send(res, 403, { error: e.message });
          }
        } else if (req.method === "POST" && path === "/orgs") {
          const name = typeof body.name === "string" ? body.name.trim() : "";
          if (!name || name.length > 100) {
            send(res, 400, { error: "An organisation needs a name of 1 to 100 characters" });
            return;
          }
          const created = createOrg(user.id, name, isRole(body.role) ? body.role : "org:admin");
          await sendMembershipWebhook("organizationMembership.created", created.id, user.id, created.role);
          send(res, 200, created);
        } else if (path === "/memberships" && (req.method === "PUT" || req.method === "DELETE")) {
          const orgId = typeof body.orgId === "string" ? body.orgId : "";
          if (!orgs.has(orgId)) {
            send(res, 404, { error: `Unknown dev organisation ${JSON.stringify(orgId)}` });
            return;
          }
          const previous = memberships.get(`${orgId} ${user.id}`);
          let webhook: WebhookDelivery | null = null;
          if (req.method === "DELETE") {
            if (removeMembership(orgId, user.id) && previous) {
              webhook = await sendMembershipWebhook("organizationMembership.deleted", orgId, user.id, previous);
            }
          } else if (isRole(body.role)) {
            setMembership(orgId, user.id, body.role);
            if (previous !== body.role) {
              const type = previous ? "organizationMembership.updated" : "organizationMembership.created";
              webhook = await sendMembershipWebhook(type, orgId, user.id, body.role);
            }
          } else {
            send(res, 400, { error: "role is org:admin or org:member" });
            return;
          }
          send(res, 200, { ok: true, webhook });
        } else {
          send(res, 404, { error: `No route ${req.method} ${path}` });
        }
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
    orgsOf,
    createOrg,
    setMembership,
    removeMembership,
    configureClerkWebhook: (target) => {
      webhookTarget = target;
    },
    sendMembershipWebhook,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
