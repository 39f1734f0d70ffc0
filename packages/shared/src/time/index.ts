export { type Clock, systemClock, FakeClock } from "./clock.ts";
export { type Random, cryptoRandom, sequenceRandom } from "./random.ts";
export { parseDuration, formatDuration, MAX_DURATION_MS } from "./duration.ts";
