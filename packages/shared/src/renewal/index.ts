export { grantedFrom, renewalTime, intervalRenewalTime, nextRenewalTime } from "./renewal.ts";
