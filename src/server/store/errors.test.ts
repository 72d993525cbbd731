import { expect, test } from "bun:test";
import { StoreOverloaded, storageFailure } from "./errors.ts";

const pg = (errno: string) => Object.assign(new Error("x"), { code: "ERR_POSTGRES_SERVER_ERROR", errno });

test("storageFailure: what PostgreSQL and SQLite say when they cannot take writes now, and nothing else", () => {
  expect(storageFailure(Object.assign(new Error("x"), { code: "ERR_POSTGRES_CONNECTION_REFUSED" }))).toBe(
    "the database is unreachable",
  );
  expect(storageFailure(Object.assign(new Error("x"), { code: "ERR_POSTGRES_CONNECTION_CLOSED" }))).toBe(
    "the database is unreachable",
  );
  expect(storageFailure(pg("57P01"))).toBe("PostgreSQL is restarting");
  expect(storageFailure(pg("57P03"))).toBe("PostgreSQL is restarting");
  expect(storageFailure(pg("08006"))).toBe("the connection to PostgreSQL failed");
  expect(storageFailure(pg("53100"))).toBe("PostgreSQL's disk is full");
  expect(storageFailure(pg("53300"))).toBe("PostgreSQL is out of resources");
  expect(storageFailure(pg("57014"))).toBe("the database is too slow (statement timeout)");
  expect(storageFailure(pg("40001"))).toBe("the database is busy (conflicting writes)");
  expect(storageFailure(pg("25006"))).toBe("PostgreSQL is read-only (a standby?)");
  expect(storageFailure(new StoreOverloaded("busy"))).toBe("the database is overloaded");
  // bugs stay bugs: a constraint, a syntax error, a bad password
  expect(storageFailure(pg("23505"))).toBeNull();
  expect(storageFailure(pg("42601"))).toBeNull();
  expect(storageFailure(pg("28P01"))).toBeNull();
  expect(storageFailure(Object.assign(new Error("x"), { code: "SQLITE_FULL" }))).toBe("the disk is full");
  expect(storageFailure(Object.assign(new Error("x"), { code: "SQLITE_CONSTRAINT_UNIQUE" }))).toBeNull();
  expect(storageFailure(new Error("plain"))).toBeNull();
  expect(storageFailure(null)).toBeNull();
});
