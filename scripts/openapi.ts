/**
 * The OpenAPI documents in docs/openapi/, made by the hub itself: a hub app is built in-process (a
 * throw-away CA, an in-memory store, no sockets) and each listener is asked for the `/v1/api.yaml` it
 * serves, so the committed files are exactly what a running hub answers.
 *   node scripts/openapi.ts          says whether docs/openapi/ is up to date (exit 1 if not)
 *   node scripts/openapi.ts --write  rewrites docs/openapi/external.yaml and internal.yaml
 * e2e/test/readme.test.ts runs the check inside the test command.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { buildApp } from "../packages/hub/src/app.ts";
import { issuedServingCertificate } from "../packages/hub/src/ca/serving.ts";
import { parseConfig } from "../packages/hub/src/config.ts";
import { createLogger } from "../packages/hub/src/logger.ts";
import { openSqliteStore } from "../packages/hub/src/store/sqlite.ts";
import { createKeyring, createSelfSignedCa, loadCa } from "../packages/shared/src/pki/index.ts";
import { systemClock } from "../packages/shared/src/time/index.ts";

export const openApiDir = fileURLToPath(new URL("../docs/openapi/", import.meta.url));
export const regenerate = "./dev node scripts/openapi.ts --write";

/** The listeners and the file each one's document goes to. */
export const openApiFiles = { external: "external.yaml", internal: "internal.yaml" } as const;
type ListenerName = keyof typeof openApiFiles;

/** Each listener's `GET /v1/api.yaml`, formatted as `prettier --check` wants the file. */
export async function renderOpenApi(): Promise<Record<ListenerName, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), "tether-openapi-"));
  const store = openSqliteStore(":memory:");
  try {
    await store.migrate();
    const config = parseConfig(
      ["--data-dir", dataDir, "--public-url", "https://hub.example.com", "--log-level", "silent"],
      {},
    );
    const logger = createLogger({ level: "silent" });
    const { certPem, keyPem } = await createSelfSignedCa({ commonName: "openapi", clock: systemClock });
    const keyring = createKeyring(await loadCa(certPem, keyPem));
    const serving = await issuedServingCertificate({
      keyring,
      hosts: ["hub.example.com"],
      validityMs: 86_400_000,
      clock: systemClock,
      log: logger,
    });
    const app = await buildApp(config, { store, keyring, serving, logger });
    try {
      const documents = {} as Record<ListenerName, string>;
      for (const listener of Object.keys(openApiFiles) as ListenerName[]) {
        const answer = await app[listener].inject({ method: "GET", url: "/v1/api.yaml" });
        if (answer.statusCode !== 200) {
          throw new Error(`${listener} /v1/api.yaml answered ${answer.statusCode}: ${answer.body}`);
        }
        const filepath = join(openApiDir, openApiFiles[listener]);
        documents[listener] = await format(answer.body, { ...(await resolveConfig(filepath)), filepath });
      }
      return documents;
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The files that differ from what the hub serves now (missing ones included). */
export async function staleOpenApiFiles(): Promise<string[]> {
  const documents = await renderOpenApi();
  const stale: string[] = [];
  for (const listener of Object.keys(openApiFiles) as ListenerName[]) {
    const file = join(openApiDir, openApiFiles[listener]);
    const current = await readFile(file, "utf8").catch(() => undefined);
    if (current !== documents[listener]) stale.push(`docs/openapi/${openApiFiles[listener]}`);
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes("--write")) {
    const documents = await renderOpenApi();
    await mkdir(openApiDir, { recursive: true });
    for (const listener of Object.keys(openApiFiles) as ListenerName[]) {
      await writeFile(join(openApiDir, openApiFiles[listener]), documents[listener]);
    }
    console.log(`docs/openapi: ${Object.values(openApiFiles).join(", ")} written`);
  } else {
    const stale = await staleOpenApiFiles();
    if (stale.length > 0) {
      console.error(`${stale.join(", ")}: out of date; run: ${regenerate}`);
      process.exit(1);
    }
    console.log("docs/openapi: up to date");
  }
}
