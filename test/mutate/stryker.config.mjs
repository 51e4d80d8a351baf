// npm run mutate: mutation testing of the pure decisions against the fast tiers.
// Stryker instruments every mutant into one copy of the code (mutation switching), so the
// sandbox is built once (`buildCommand`); each run picks its mutant from the environment.
// Per file while developing: npm run mutate -- --mutate agent/core/phase.ts
// The lifecycle (its own report): npm run mutate:lifecycle
// The Node that runs Stryker (npm: the one that runs npm). Commands are split on spaces, unquoted.
const node = process.execPath;

export default {
  testRunner: 'command',
  buildCommand: `${node} build.mjs --tests-only`,
  commandRunner: { command: `${node} --test-reporter=./.build/test/mutate/bail.js .build/test/mutate/fast-tiers.js --require-instrumented` },
  mutate: ['agent/core/*.ts', 'agent/shared/pacing.ts'],
  coverageAnalysis: 'off',
  // The machine is shared; more if it is yours: npm run mutate -- --concurrency 4
  concurrency: 2,
  // A mutant that loops forever on the fake clock is killed by the timeout (counted detected).
  timeoutMS: 5000,
  ignorePatterns: ['dist', '.build', '.build-*', 'reports', '.tmp-*'],
  tempDirName: '.stryker-tmp',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  incrementalFile: 'reports/mutation/incremental.json',
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  thresholds: { high: 95, low: 90, break: null },
};
