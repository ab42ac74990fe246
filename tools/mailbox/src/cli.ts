/**
 * `npx tsx tools/mailbox/src/cli.ts [--port 3213]`: the local mailbox alone.
 * Point the local backend at it with
 * `npm run local-backend -- --redirect-fetch https://api.resend.com=http://127.0.0.1:3213`.
 */
import { parseArgs } from "node:util";
import { startMailbox } from "./index";

const { values } = parseArgs({ options: { port: { type: "string" } } });
const mailbox = await startMailbox({
  port: values.port ? Number.parseInt(values.port, 10) : 3213,
  onMail: (m) => console.log(`[mailbox] ${m.to.join(", ")}: ${m.subject}`),
});
console.log(`[mailbox] ${mailbox.url}`);
const stop = () => void mailbox.close().finally(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
