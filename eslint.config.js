// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/.tap/**", "coverage/**", "charts/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "no-console": ["error", { allow: ["error", "warn"] }],
    },
  },
  {
    // Tests, CLIs, benchmarks and scripts talk to a terminal by design.
    files: ["**/test/**", "**/cli.ts", "**/cli/**", "bench/**", "scripts/**", "e2e/**"],
    rules: { "no-console": "off" },
  },
  {
    // tap's assertion helpers return promises that tap itself awaits.
    files: ["**/test/**", "e2e/test/**", "**/*.test.ts", "**/conformance.ts", "**/ca-conformance.ts"],
    rules: {
      "@typescript-eslint/no-floating-promises": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/require-await": "off",
    },
  },
);
