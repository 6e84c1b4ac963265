import { expect } from "chai";
import { Client } from "pg";
import { createDataSource, openDataSource } from "../../../server/persistence/dataSource";
import { migrations } from "../../../server/persistence/migrations";
import { createTestDatabase, type TestDatabase } from "../../support/database";

const TABLES = [
  "account_balances",
  "accounts",
  "api_key_spend",
  "api_keys",
  "chain_blocks",
  "chain_cursor",
  "chain_earnings",
  "chain_events",
  "chain_pair_settlements",
  "chain_payer_balances",
  "chain_reorgs",
  "chain_settlements",
  "holds",
  "models",
  "providers",
  "sessions",
  "settlement_submitters",
  "settlement_transactions",
  "siwe_nonces",
  "upstream_models",
  "upstreams",
  "usage_records",
  "voucher_settlements",
  "vouchers",
];

async function tablesOf(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY table_name`,
    );
    return result.rows.map((row) => row.table_name as string);
  } finally {
    await client.end();
  }
}

describe("migrations", () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  it("create every table on an empty database, exactly as the entity schemas describe them", async () => {
    expect(await tablesOf(database.url)).to.deep.equal([]);
    const dataSource = await openDataSource(database.url);
    try {
      expect(await tablesOf(database.url)).to.deep.equal(TABLES);
      // What `synchronize` would change: nothing, or the schemas and the migration disagree.
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).to.deep.equal([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it("run once when several instances open a fresh database at the same moment", async () => {
    const dataSources = await Promise.all([1, 2, 3].map(() => openDataSource(database.url)));
    try {
      const [{ count }] = await dataSources[0].query("SELECT count(*)::int AS count FROM migrations");
      expect(count).to.equal(migrations.length);
    } finally {
      await Promise.all(dataSources.map((dataSource) => dataSource.destroy()));
    }
  });

  it("are a no-op on an up-to-date database, and can be reverted", async () => {
    await (await openDataSource(database.url)).destroy();
    const dataSource = await openDataSource(database.url);
    try {
      expect(await dataSource.showMigrations()).to.equal(false);
      for (let undone = 0; undone < migrations.length; undone++) await dataSource.undoLastMigration();
      expect(await tablesOf(database.url)).to.deep.equal([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it("never synchronize the schema", () => {
    const options = createDataSource(database.url).options;
    expect(options.synchronize).to.equal(false);
  });
});
