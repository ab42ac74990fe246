import { ConvexReactClient } from "convex/react";

const clients = new Map<string, ConvexReactClient>();

/** One client per URL for the page's lifetime (StrictMode double-renders must not open two sockets). */
export function convexClientFor(url: string): ConvexReactClient {
  let client = clients.get(url);
  if (!client) {
    client = new ConvexReactClient(url);
    clients.set(url, client);
  }
  return client;
}
