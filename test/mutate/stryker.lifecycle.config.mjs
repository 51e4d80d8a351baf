// npm run mutate:lifecycle: the same run over agent/lifecycle (its I/O behind ports, on a
// fake clock, so the fast tiers reach it). Slower than the decisions; no goal, a figure.
import base from './stryker.config.mjs';

export default {
  ...base,
  mutate: ['agent/lifecycle/*.ts'],
  htmlReporter: { fileName: 'reports/mutation-lifecycle/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-lifecycle/mutation.json' },
  incrementalFile: 'reports/mutation-lifecycle/incremental.json',
};
