export { renewalTime, intervalRenewalTime, nextRenewalTime } from "./renewal.ts";
