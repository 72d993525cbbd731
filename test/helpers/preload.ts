/** Loaded before every test file (bunfig.toml): the PostgreSQL test databases go when the tests end. */
import { afterAll } from "bun:test";
import { dropAllTestDatabases, TEST_POSTGRES } from "./postgres.ts";

if (TEST_POSTGRES) afterAll(() => dropAllTestDatabases());
