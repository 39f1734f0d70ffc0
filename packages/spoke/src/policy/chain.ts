/**
 * The one shape of every decision in the spoke, after cert-manager's `policies.Chain`: a chain is a
 * list of small pure checks over gathered input; each answers a violation (reason and message) or
 * nothing, and the chain answers the first violation. The renewal, readiness and hub-kubeconfig
 * chains are built from the checks in checks.ts plus a few of their own. No I/O in a check: the
 * clock and any randomness arrive in the input.
 */

/** A check's finding: `reason` is the word an operator sees in conditions, Events, logs and /readyz. */
export interface Violation<Reason extends string = string> {
  reason: Reason;
  message: string;
}

export type Check<Input, Reason extends string> = (input: Input) => Violation<Reason> | undefined;

export type Chain<Input, Reason extends string> = readonly Check<Input, Reason>[];

/** The first violation of the chain, or undefined when every check passes. */
export function evaluate<Input, Reason extends string>(
  chain: Chain<Input, Reason>,
  input: Input,
): Violation<Reason> | undefined {
  for (const check of chain) {
    const violation = check(input);
    if (violation) return violation;
  }
  return undefined;
}

/**
 * The check with one of its findings left out, for a chain where that finding calls for no action;
 * the fact is still judged in one place, by the check itself.
 */
export function except<Input, Reason extends string, Left extends Reason>(
  check: Check<Input, Reason>,
  left: Left,
): Check<Input, Exclude<Reason, Left>> {
  return (input) => {
    const violation = check(input);
    return violation === undefined || violation.reason === left
      ? undefined
      : (violation as Violation<Exclude<Reason, Left>>);
  };
}
