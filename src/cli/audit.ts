/** Admin actions taken on the data dir from the command line go to the audit log as actor "cli". */
import type { Store } from "../server/store/index.ts";

export function auditCli(
  store: Store,
  action: string,
  target: string | null,
  detail: Record<string, unknown> = {},
): void {
  store.auth.audit({ at: Date.now(), actor: "cli", action, target, detail, sourceIp: null });
}
