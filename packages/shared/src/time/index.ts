export { type Clock, systemClock, FakeClock } from "./clock.ts";
export { type Random, cryptoRandom, sequenceRandom } from "./random.ts";
export { parseDuration, formatDuration } from "./duration.ts";
