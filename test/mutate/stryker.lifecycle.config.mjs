// npm run mutate:lifecycle: the same run over agent/lifecycle (its I/O behind ports, on a
// fake clock, so test/lifecycle reaches it). No goal, a figure (RELIABILITY.md). The files
// that run the decisions' steps; the whole folder (1158 mutants) takes about an hour on a
// shared 2-core machine: -- --mutate 'agent/lifecycle/*.ts'
import base from './stryker.config.mjs';

export default {
  ...base,
  mutate: ['agent/lifecycle/claim.ts', 'agent/lifecycle/live.ts', 'agent/lifecycle/release.ts', 'agent/lifecycle/state.ts'],
  commandRunner: { command: `${base.commandRunner.command} lifecycle` },
  htmlReporter: { fileName: 'reports/mutation-lifecycle/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-lifecycle/mutation.json' },
  incrementalFile: 'reports/mutation-lifecycle/incremental.json',
};
