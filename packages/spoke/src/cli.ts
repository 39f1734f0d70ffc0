#!/usr/bin/env node
/**
 * `tether-spoke run`: the agent. From the repository: `pnpm tether-spoke run --kubeconfig ... `.
 */
import { ConfigError, flagsHelp, parseConfig } from "./config.ts";
import { createLogger, runAgent } from "./serve.ts";

const USAGE = `usage: tether-spoke run [flags]

  run    keep this cluster's hub credentials valid: token exchange (CertificateRequest),
         sync and renewal (CentralConnection), leader election, /livez /readyz /metrics;
         with --bootstrap-kubeconfig and --cluster-name it also joins the hub by itself and
         exits (to be restarted) when its certificate expires or the bootstrap kubeconfig changes

flags (or TETHER_SPOKE_* env):
${flagsHelp()}
`;

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === "help" || command === "--help" || command === "-h") {
  console.log(USAGE);
  process.exit(command === undefined ? 2 : 0);
}
if (command !== "run") {
  console.error(`tether-spoke: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}
try {
  const config = parseConfig(rest);
  process.exit(await runAgent(config, createLogger(config.logLevel)));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`tether-spoke: ${error.message}`);
    process.exit(2);
  }
  console.error("tether-spoke: failed:", error);
  process.exit(1);
}
