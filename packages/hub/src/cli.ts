#!/usr/bin/env node
/**
 * `tether-hub`: `serve` runs the hub; the other commands talk to a running hub's internal API.
 * From the repository: `pnpm tether-hub <command>` (or `./dev pnpm tether-hub <command>`).
 */
import { ca } from "./cli/ca-commands.ts";
import { adminToken, bootstrapKubeconfig, revoke, runtimes, tokenCreate } from "./cli/commands.ts";
import { ConfigError, flagsHelp, parseConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { serve, stopOnSignals } from "./main.ts";

const USAGE = `usage: tether-hub <command> [flags]

  serve                                    run the hub (flags below, or TETHER_HUB_* env)
  token create --tenant T --group G [--runtime ID] [--label k=v]... [--ttl 10m] [-o url|json|yaml] [--name N] [--ca-bundle FILE]
                                           a one-time token URL (-o yaml: a CertificateRequest to kubectl apply)
  bootstrap-kubeconfig --runtime ID [--tenant T --group G] [--ttl 24h]
                                           a bootstrap kubeconfig on stdout (Tenant/Group create a new runtime)
  runtimes list [-o table|json]            registered runtimes and their certificates
  runtimes delete ID                       delete a runtime and revoke all its certificates
  revoke (--hash SHA256 | --runtime ID)    revoke one certificate, or every certificate of a runtime
  admin-token                              print the admin token kept in --data-dir
  admin-token create --scope S[,S...] --ttl 24h   mint a scoped, expiring admin token (JWT)
  admin-token revoke --id ID               revoke a scoped admin token
  ca status [-o table|json]                every hub CA: phase, expiry, live certificates, spokes that trust / hold it
  ca rotate [--algorithm A | --ca-cert F --ca-key F]
                                           prepare the next CA (published to spokes, not signing yet)
  ca activate [SHA256]                     the next CA signs from now on; the active one keeps being trusted
  ca retire SHA256 [--force]               stop trusting a CA (refused while its live certificates remain)

client flags (every command but serve):
  --internal-url URL   internal API (default http://127.0.0.1:8080)  [TETHER_HUB_INTERNAL_URL]
  --admin-token T      admin token  [TETHER_HUB_ADMIN_TOKEN], else read from <data-dir>/admin-token
  --data-dir DIR       (default .tether/hub)  [TETHER_HUB_DATA_DIR]

serve flags:
${flagsHelp()}
`;

async function runServe(argv: string[]): Promise<void> {
  const config = parseConfig(argv);
  const logger = createLogger({ level: config.logLevel });
  const hub = await serve(config, { logger });
  stopOnSignals(hub, logger);
  const lines = [
    `tether hub ready`,
    `  runtime API (TLS):   ${hub.externalUrl}   public URL ${hub.publicUrl}`,
    `  internal API:        ${hub.internalUrl}`,
    `  hub CA certificate:  ${hub.caCertPath}`,
    hub.adminTokenFile === undefined
      ? `  admin token:         from --admin-token`
      : `  admin token:         ${hub.adminTokenFile}   (print it: tether-hub admin-token --data-dir ${config.dataDir})`,
    `  first token URL:     tether-hub token create --tenant T --group G`,
  ];
  console.error(lines.join("\n"));
}

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  serve: runServe,
  "bootstrap-kubeconfig": bootstrapKubeconfig,
  runtimes,
  revoke,
  "admin-token": adminToken,
  ca,
  token: async ([sub, ...rest]) => {
    if (sub !== "create") throw new ConfigError("token create --tenant T --group G [...]");
    await tokenCreate(rest);
  },
};

const [name, ...argv] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (command === undefined || argv.includes("--help") || argv.includes("-h")) {
  (name === undefined || name === "--help" || name === "-h" || command !== undefined
    ? console.log
    : console.error)(USAGE);
  process.exitCode = command === undefined && name !== "--help" && name !== "-h" ? 2 : 0;
} else {
  command(argv).catch((error: unknown) => {
    console.error(`tether-hub ${name}: ${(error as Error).message}`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  });
}
