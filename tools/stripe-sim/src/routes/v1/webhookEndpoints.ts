/**
 * `/v1/webhook_endpoints`: create (the secret is returned only then),
 * retrieve, update, delete, list.
 */
import type Stripe from "stripe";
import { buildWebhookEndpoint } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { found, paramMissing } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { bool, mergeMetadata, metadataOf, str, strs } from "../../form.ts";
import { randomToken } from "../../ids.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

export function registerWebhookEndpointRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);
  router.on("POST", "/v1/webhook_endpoints", (req) => {
    const p = req.body;
    const ep = buildWebhookEndpoint({
      created: ctx.store.realNow(),
      url: requireStr(p, "url"),
      enabledEvents: strs(p.enabled_events).length > 0 ? strs(p.enabled_events) : (() => { throw paramMissing("enabled_events"); })(),
      secret: `whsec_${randomToken(32)}`,
      description: str(p.description) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
    });
    state().webhookEndpoints[ep.id] = ep;
    return one(req, ep);
  });
  const endpoint = (id: string) => found(state().webhookEndpoints[id], "webhook_endpoint", id);
  // The secret is only returned at creation, as in Stripe.
  const hideSecret = (ep: Stripe.WebhookEndpoint & { secret: string }) => {
    const { secret: _secret, ...rest } = ep;
    return rest;
  };
  router.on("GET", "/v1/webhook_endpoints/:id", (req) => one(req, hideSecret(endpoint(req.params.id ?? ""))));
  router.on("POST", "/v1/webhook_endpoints/:id", (req) => {
    const ep = endpoint(req.params.id ?? "");
    const p = req.body;
    if (str(p.url)) ep.url = str(p.url) ?? ep.url;
    if (strs(p.enabled_events).length > 0) ep.enabled_events = strs(p.enabled_events);
    const disabled = bool(p.disabled);
    if (disabled !== undefined) ep.status = disabled ? "disabled" : "enabled";
    ep.metadata = mergeMetadata(ep.metadata, metadataOf(p.metadata), p.metadata);
    return one(req, hideSecret(ep));
  });
  router.on("DELETE", "/v1/webhook_endpoints/:id", (req) => {
    const ep = endpoint(req.params.id ?? "");
    delete state().webhookEndpoints[ep.id];
    return ok({ id: ep.id, object: "webhook_endpoint", deleted: true });
  });
  router.on("GET", "/v1/webhook_endpoints", (req) =>
    list(req, newestFirst(Object.values(state().webhookEndpoints)).map(hideSecret) as (Stripe.WebhookEndpoint & { id: string })[], "/v1/webhook_endpoints"),
  );
}
