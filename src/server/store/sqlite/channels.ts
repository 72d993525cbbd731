/** Alert channels added in the dashboard, in bun:sqlite: one row each, the URL sealed. */
import type { Database } from "bun:sqlite";
import type { ChannelRepository, StoredChannel } from "../types.ts";
import type { Sync } from "./sync.ts";

interface Row {
  id: string;
  url_sealed: string;
  display: string;
  created_at: number;
  updated_at: number;
}

const toChannel = (r: Row): StoredChannel => ({
  id: r.id,
  urlSealed: r.url_sealed,
  display: r.display,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function sqliteChannels(db: Database): Sync<ChannelRepository> {
  return {
    list: () =>
      db.query<Row, []>("SELECT * FROM notify_channels ORDER BY created_at, id").all().map(toChannel),
    get(id) {
      const r = db.query<Row, [string]>("SELECT * FROM notify_channels WHERE id = ?").get(id);
      return r ? toChannel(r) : null;
    },
    create(c) {
      db.query(
        "INSERT INTO notify_channels (id, url_sealed, display, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      ).run(c.id, c.urlSealed, c.display, c.createdAt, c.updatedAt);
    },
    update: (id, c) =>
      db
        .query("UPDATE notify_channels SET url_sealed = ?, display = ?, updated_at = ? WHERE id = ?")
        .run(c.urlSealed, c.display, c.updatedAt, id).changes > 0,
    remove: (id) => db.query("DELETE FROM notify_channels WHERE id = ?").run(id).changes > 0,
    reencrypt: (reencrypt) =>
      db.transaction(() => {
        const rows = db.query<Row, []>("SELECT id, url_sealed FROM notify_channels").all();
        for (const r of rows)
          db.query("UPDATE notify_channels SET url_sealed = ? WHERE id = ?").run(
            reencrypt(r.url_sealed),
            r.id,
          );
        return rows.length;
      })(),
  };
}
