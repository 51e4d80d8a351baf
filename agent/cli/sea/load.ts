// How the self-contained executable runs the agent (build.mjs): as two scripts, each compiled
// from V8's code cache. `agent` is the agent's own code; `vendor` is the AWS SDK and YAML, 90 %
// of the code, compiled only when the agent first requires them, after its first IMDS
// requests. One code cache of the whole bundle took 9 ms to read at every start, before the
// first line ran (issue 22).
import { isBuiltin } from 'node:module';
import { Script } from 'node:vm';

export type ScriptName = 'agent' | 'vendor';

/** Each script is a CommonJS module's body, wrapped as Node wraps a module, with no import() (build.mjs). */
type ModuleFunction = (exports: object, require: (id: string) => unknown, module: { exports: object }) => void;

export interface Sources {
  source(name: ScriptName): string;
  /** V8's code cache of that source, made by the same Node on the same CPU */
  cache(name: ScriptName): Buffer | undefined;
}

export function compile(sources: Sources, name: ScriptName): Script {
  const cachedData = sources.cache(name);
  const script = new Script(sources.source(name), {
    filename: `eip-agent/${name}.js`,
    ...(cachedData ? { cachedData } : {}),
  });
  // Still runs, only slower: said once, on stderr, where the executable's tests look.
  if (script.cachedDataRejected) process.emitWarning(`eip-agent: V8 rejected the code cache of ${name}.js (a slower start)`);
  return script;
}

function evaluate(script: Script, require: (id: string) => unknown): object {
  const module = { exports: {} };
  (script.runInThisContext() as ModuleFunction)(module.exports, require, module);
  return module.exports;
}

/**
 * Runs the agent. Its `require` serves Node's builtins, and any other package from the vendor
 * script (its exports: each package's by its name), evaluated when first asked for.
 */
export function runAgent(sources: Sources, builtins: (id: string) => unknown, onAgent?: (script: Script) => void): void {
  let vendor: Record<string, unknown> | undefined;
  const require = (id: string): unknown => {
    if (isBuiltin(id)) return builtins(id);
    vendor ??= evaluate(compile(sources, 'vendor'), builtins) as Record<string, unknown>;
    if (!(id in vendor)) throw new Error(`eip-agent: ${id} is not in the executable's vendor script (build.mjs VENDORED)`);
    return vendor[id];
  };
  const agent = compile(sources, 'agent');
  onAgent?.(agent);
  evaluate(agent, require);
}
