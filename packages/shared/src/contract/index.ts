export * from "./fields.ts";
export * from "./errors.ts";
export * from "./runtime-api.ts";
export * from "./trust.ts";
export * from "./admin-api.ts";
export * from "./routes.ts";
export * from "./openapi.ts";
export * from "./check.ts";
