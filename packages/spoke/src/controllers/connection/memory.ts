/**
 * What the connection controller keeps in process memory, per connection. Everything else it needs
 * lives in the CentralConnection's status (docs/resources.md#custom-resources), so that a new leader continues where the old
 * one stopped: the failure count, the last failure and the time of the next attempt (the back-off),
 * the last sync and how it went, and the generation of the spec last acted on.
 *
 * What remains here cannot go into status, because it is (or belongs to) a private key:
 *
 * | held      | unstored | renewNowServed | meaning                                                     |
 * |-----------|----------|----------------|-------------------------------------------------------------|
 * | undefined |    -     |       -        | nothing usable seen yet: no renewal can authenticate        |
 * | set       |  false   |     false      | held is the Secret's credential, or was, before the Secret  |
 * |           |          |                | was deleted or damaged: a renewal with it rebuilds it       |
 * | set       |  true    |     either     | the hub issued held, but its Secret write failed: the next  |
 * |           |          |                | reconcile writes it before anything else                    |
 * | set       |  false   |     true       | held came from spec.renewNow and is stored: reset the flag  |
 *
 * `assigned` is the subject the hub named at this process's last sync (WrongIdentity compares it).
 * A leader change loses all of it: the new leader reads the Secret again, renews once more when the
 * old one's renewal was not stored or its renewNow not yet reset, and learns the subject at its first
 * sync.
 */
import { isDeepStrictEqual } from "node:util";
import type { Subject } from "@tether/shared/pki";
import type { HeldCredential, InspectedSecret } from "../../credential/secret.ts";

export interface Memory {
  /** spec.establishedAt this memory belongs to: a re-enrolment starts afresh. */
  establishedAt: string;
  held?: HeldCredential;
  unstored: boolean;
  renewNowServed: boolean;
  assigned?: Subject;
}

export function freshMemory(establishedAt: string): Memory {
  return { establishedAt, unstored: false, renewNowServed: false };
}

/**
 * Takes the Secret's credential as the held one when nothing is held yet, when it is the same
 * certificate, or when it is a newer certificate for the same subject. A certificate for another
 * subject is never adopted: the WrongIdentity check renews over it with the held credential.
 */
export function adopt(memory: Memory, inspected: InspectedSecret): void {
  const fromSecret = inspected.held;
  if (fromSecret === undefined || inspected.state.chain?.ok === false) return;
  const held = memory.held;
  // A write that reported failure may have landed after all.
  if (memory.unstored && held?.certificate.sha256 === fromSecret.certificate.sha256) memory.unstored = false;
  if (memory.unstored) return;
  if (
    held === undefined ||
    held.certificate.sha256 === fromSecret.certificate.sha256 ||
    (fromSecret.certificate.notAfter > held.certificate.notAfter &&
      isDeepStrictEqual(fromSecret.certificate.subject, held.certificate.subject))
  ) {
    memory.held = fromSecret;
  }
}
