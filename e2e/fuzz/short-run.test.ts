/**
 * A short schemathesis run against a real hub (e2e/fuzz/run.ts): both listeners' OpenAPI documents,
 * every check on (no 5xx, responses match their schemas, schema-valid requests accepted and
 * schema-violating ones refused, auth enforced). Deterministic, so that it passes or fails the same
 * way on every machine; `./dev fuzz` is the long, random run of the same.
 */
import t from "tap";
import { fuzz } from "../fuzz/run.ts";

const results = await fuzz({ maxExamples: 10, deterministic: true });

for (const result of results) {
  t.test(`the ${result.listener} listener keeps its OpenAPI contract`, async (t) => {
    t.comment(`${result.listener}: ${result.cases} cases, ${result.failures} failures`);
    t.ok(result.cases > 0, "schemathesis generated test cases");
    t.equal(result.failures, 0, "no unique failures");
    // On failure, schemathesis's report from its FAILURES section on (the progress before it is noise).
    const report = result.output.slice(Math.max(0, result.output.indexOf("= FAILURES =")));
    t.equal(result.exitCode, 0, `schemathesis passed${result.exitCode === 0 ? "" : `:\n${report}`}`);
  });
}
t.equal(results.length, 2, "both listeners were fuzzed");
