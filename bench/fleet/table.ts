/** The table the bench prints and writes (--out): one row per store × fleet size × connection mode. */
import type { Row } from "./measure.ts";

const ms = (value: number) => (Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(1) : value.toFixed(0));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

export function fleetTable(rows: Row[]): string {
  const header = [
    "store",
    "spokes",
    "mode",
    "req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "errors",
    "resumed",
    "revoked+refused",
    "hub CPU-s/1k req",
    "hub CPU",
    "hub RSS MB",
    "hub fds",
    "sim CPU-s/1k req",
    "burst renewals",
    "burst /s",
    "burst p99 ms",
    "burst errors",
  ];
  const lines = rows.map((row) => {
    const { stats } = row;
    const [p50, p99, p999] = stats.latencies.quantiles(0.5, 0.99, 0.999);
    const perThousand = (cpu: number) =>
      stats.requests === 0 ? "-" : ((cpu / stats.requests) * 1000).toFixed(2);
    const burst = row.burst;
    return [
      row.store,
      row.spokes.toLocaleString("en"),
      row.mode,
      (stats.requests / row.seconds).toFixed(0),
      ms(p50!),
      ms(p99!),
      ms(p999!),
      String(stats.errors + stats.renewalErrors),
      stats.connects === 0 ? "-" : `${((stats.resumed / stats.connects) * 100).toFixed(0)} %`,
      String(stats.revocations),
      perThousand(row.hubCpuSeconds),
      `${((row.hubCpuSeconds / row.seconds) * 100).toFixed(0)} %`,
      mb(row.hubRssBytes),
      String(row.hubFds),
      perThousand(row.simCpuSeconds),
      burst ? String(burst.count) : "-",
      burst ? (burst.count / burst.seconds).toFixed(0) : "-",
      burst ? ms(burst.stats.renewalLatencies.quantiles(0.99)[0]!) : "-",
      burst ? String(burst.stats.renewalErrors + burst.stats.errors) : "-",
    ];
  });
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...lines.map((cells) => `| ${cells.join(" | ")} |`),
  ].join("\n");
}

/** What went wrong, by kind, for the rows that had errors. */
export function errorSummary(rows: Row[]): string[] {
  return rows.flatMap((row) => {
    const kinds = new Map(row.stats.errorKinds);
    for (const [kind, n] of row.burst?.stats.errorKinds ?? []) kinds.set(`burst ${kind}`, n);
    return [...kinds].map(
      ([kind, n]) => `${row.store} N=${row.spokes} ${row.mode}: ${n} × ${kind.slice(0, 160)}`,
    );
  });
}
