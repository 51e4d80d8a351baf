// npm run mutate's test reporter: the first failing test kills the mutant, so the process
// ends there instead of running the rest of the tiers (most mutants die in test/core,
// which runs first). Prints which test, for `--logLevel debug`.
interface TestEvent {
  type: string;
  data: { name?: string; details?: { error?: unknown } };
}

export default async function* bail(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const error = event.data.details?.error;
    process.stderr.write(`killed by: ${event.data.name ?? '?'}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    process.exit(1);
  }
  yield '';
}
