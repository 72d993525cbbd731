/** Alert channels added in the dashboard, on PostgreSQL: one row each, the URL sealed. */
import type { SQL } from "bun";
import type { ChannelRepository, StoredChannel } from "../types.ts";
import { atomically } from "./db.ts";
import type { Row } from "./rows.ts";

const toChannel = (r: Row): StoredChannel => ({
  id: r.id,
  urlSealed: r.url_sealed,
  display: r.display,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export function pgChannels(db: SQL): ChannelRepository {
  return {
    async list() {
      // ids compare byte by byte, as on SQLite
      return (await db`SELECT * FROM notify_channels ORDER BY created_at, id COLLATE "C"`).map(toChannel);
    },
    async get(id) {
      const [r] = await db`SELECT * FROM notify_channels WHERE id = ${id}`;
      return r ? toChannel(r) : null;
    },
    async create(c) {
      await db`INSERT INTO notify_channels (id, url_sealed, display, created_at, updated_at)
        VALUES (${c.id}, ${c.urlSealed}, ${c.display}, ${c.createdAt}, ${c.updatedAt})`;
    },
    async update(id, c) {
      const res = await db`UPDATE notify_channels
        SET url_sealed = ${c.urlSealed}, display = ${c.display}, updated_at = ${c.updatedAt} WHERE id = ${id}`;
      return res.count > 0;
    },
    async remove(id) {
      return (await db`DELETE FROM notify_channels WHERE id = ${id}`).count > 0;
    },
    reencrypt(reencrypt) {
      // every URL is re-sealed, or none; the rows are locked so that an edit on another replica
      // in the meantime is not overwritten with the old URL
      return atomically(db, async (tx) => {
        const rows = await tx`SELECT id, url_sealed FROM notify_channels FOR UPDATE`;
        for (const r of rows as Row[])
          await tx`UPDATE notify_channels SET url_sealed = ${reencrypt(r.url_sealed)} WHERE id = ${r.id}`;
        return rows.length;
      });
    },
  };
}
