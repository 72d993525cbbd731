/** Admin actions taken on the data dir from the command line go to the audit log as actor "cli". */
import type { Repositories } from "../server/store/index.ts";

export async function auditCli(
  store: Pick<Repositories, "auth">,
  action: string,
  target: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await store.auth.audit({ at: Date.now(), actor: "cli", action, target, detail, sourceIp: null });
}
