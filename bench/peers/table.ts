/**
 * The bench's figures as the tables (docs/benchmarks.md#reading-the-tables): the median of
 * the runs per row and concurrency, each issuance row beside the raw signature rate of its CA key
 * measured in the same run, each mTLS row beside nginx, and each hub row beside the bare node:https
 * server doing the same (Case.compare). Pure: the driver's reports in, text out.
 */
import type { CaKey, Case } from "./cases.ts";

/** What the Go driver prints for one run (bench/peers/driver/main.go). */
export interface DriverReport {
  mode: string;
  concurrency: number;
  newConn: boolean;
  ops: number;
  errors: number;
  firstError?: string;
  elapsedS: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMs: number;
  serverCpuMsPerOp: number;
  driverCpuMsPerOp: number;
  exhausted: boolean;
  prepared: number;
  prepareS: number;
}

export interface Summary {
  runs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerOp: number;
  driverCpuMsPerOp: number;
  errors: number;
  firstError?: string;
}

/** One row's reports, by concurrency. */
export interface RowResult {
  case: Case;
  reports: Record<number, DriverReport[]>;
}

export interface RawRates {
  /** `openssl speed` sign/s, one core. */
  openssl: Partial<Record<CaKey, number>>;
  /** Node `crypto.sign` with the CA key, one core. */
  node: Partial<Record<CaKey, number>>;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Each figure is the median over the runs on its own; errors are summed. */
export function summarize(reports: DriverReport[]): Summary | undefined {
  if (reports.length === 0) return undefined;
  const m = (pick: (r: DriverReport) => number) => median(reports.map(pick));
  return {
    runs: reports.length,
    perSecond: m((r) => r.perSecond),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    serverCpuMsPerOp: m((r) => r.serverCpuMsPerOp),
    driverCpuMsPerOp: m((r) => r.driverCpuMsPerOp),
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    firstError: reports.find((r) => r.firstError)?.firstError,
  };
}

/** 2,800/s, 607/s, 96.5/s, 0.42/s: three significant digits at most, thousands grouped. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "n/a";
  const digits = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
  return `${perSecond.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}/s`;
}

/** 10.7, 2.4, 0.47: two significant digits below 10. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  return ms >= 10 ? ms.toFixed(1) : ms.toPrecision(2);
}

export function formatPercent(share: number): string {
  if (!Number.isFinite(share)) return "n/a";
  const percent = share * 100;
  return `${percent >= 10 ? percent.toFixed(0) : percent >= 1 ? percent.toFixed(1) : percent.toFixed(2)} %`;
}

const cell = (text: string) => text.replaceAll("|", "\\|");
const row = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
const ruler = (n: number) => `|${"---|".repeat(n)}`;

function rateCell(s: Summary | undefined): string {
  if (s === undefined) return "-";
  return s.errors > 0 ? `${formatRate(s.perSecond)} (${s.errors} errors)` : formatRate(s.perSecond);
}

const per = (values: (string | undefined)[]) => values.map((v) => v ?? "-").join(" / ");

/** The row's rate over another row's at each concurrency; "" when the row compares with none. */
function ratioCell(
  r: RowResult,
  other: string | undefined,
  byId: Map<string, RowResult>,
  concurrencies: number[],
): string {
  const peer = other === undefined ? undefined : byId.get(other);
  if (peer === undefined) return "";
  return per(
    concurrencies.map((c) => {
      const mine = summarize(r.reports[c] ?? []);
      const theirs = summarize(peer.reports[c] ?? []);
      return mine && theirs ? formatPercent(mine.perSecond / theirs.perSecond) : undefined;
    }),
  );
}

export function issuanceTable(rows: RowResult[], concurrencies: number[], raw: RawRates): string {
  const conc = concurrencies.join(" / ");
  const byId = new Map(rows.map((r) => [r.case.id, r]));
  const lines = [
    row([
      "service (what one issuance includes)",
      "CA key",
      ...concurrencies.map((c) => `conc ${c}`),
      `server CPU-ms per issuance (${conc})`,
      `p50 / p99 ms at conc ${concurrencies.at(-1)}`,
      `of openssl's signing rate (${conc})`,
      `tether ÷ node:https (${conc})`,
    ]),
    ruler(concurrencies.length + 6),
  ];
  for (const r of rows) {
    const s = concurrencies.map((c) => summarize(r.reports[c] ?? []));
    const last = s.at(-1);
    const signing = raw.openssl[r.case.ca];
    lines.push(
      row([
        r.case.label,
        r.case.ca,
        ...s.map(rateCell),
        per(s.map((x) => (x ? formatMs(x.serverCpuMsPerOp) : undefined))),
        last ? `${formatMs(last.p50Ms)} / ${formatMs(last.p99Ms)}` : "-",
        per(s.map((x) => (x && signing ? formatPercent(x.perSecond / signing) : undefined))),
        ratioCell(r, r.case.compare?.node, byId, concurrencies),
      ]),
    );
  }
  return lines.join("\n");
}

export function mtlsTable(rows: RowResult[], concurrencies: number[]): string {
  const conc = concurrencies.join(" / ");
  const byId = new Map(rows.map((r) => [r.case.id, r]));
  const lines = [
    row([
      "mTLS management info",
      ...concurrencies.map((c) => `conc ${c}`),
      `server CPU-ms per request (${conc})`,
      `driver CPU-ms per request (${conc})`,
      `p50 / p99 ms at conc ${concurrencies.at(-1)}`,
      `÷ nginx (${conc})`,
      `tether ÷ node:https (${conc})`,
    ]),
    ruler(concurrencies.length + 6),
  ];
  for (const r of rows) {
    const s = concurrencies.map((c) => summarize(r.reports[c] ?? []));
    const last = s.at(-1);
    lines.push(
      row([
        r.case.label,
        ...s.map(rateCell),
        per(s.map((x) => (x ? formatMs(x.serverCpuMsPerOp) : undefined))),
        per(s.map((x) => (x ? formatMs(x.driverCpuMsPerOp) : undefined))),
        last ? `${formatMs(last.p50Ms)} / ${formatMs(last.p99Ms)}` : "-",
        ratioCell(r, r.case.compare?.nginx, byId, concurrencies),
        ratioCell(r, r.case.compare?.node, byId, concurrencies),
      ]),
    );
  }
  return lines.join("\n");
}

export function rawLine(raw: RawRates): string {
  const list = (rates: Partial<Record<CaKey, number>>) =>
    (Object.entries(rates) as [CaKey, number][])
      .map(([key, rate]) => `${key} ${formatRate(rate)}`)
      .join(", ");
  return `raw signatures, one core: \`openssl speed\` ${list(raw.openssl)}; Node \`crypto.sign\` ${list(raw.node)}`;
}

/** The first error of every row and concurrency that had any, for the lines under the tables. */
export function errorLines(rows: RowResult[], concurrencies: number[]): string[] {
  return rows.flatMap((r) =>
    concurrencies.flatMap((c) => {
      const s = summarize(r.reports[c] ?? []);
      return s && s.errors > 0
        ? [`${r.case.id} at conc ${c}: ${s.errors} errors, first: ${s.firstError}`]
        : [];
    }),
  );
}
