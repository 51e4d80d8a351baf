// The settings `install` wrote (/etc/eip-agent/env), read back so that `eip-agent doctor` on
// an installed node checks the agent's own settings without repeating its flags. Pure.

/** The EIP_AGENT_* assignments of an environment file as install-plan.ts writes it (bare or double-quoted values). */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^(EIP_AGENT_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue; // comments, blank lines, anything that is not ours
    const raw = match[2]!;
    const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(raw);
    values[match[1]!] = quoted ? quoted[1]!.replace(/\\(["\\`$])/g, '$1') : raw;
  }
  return values;
}
