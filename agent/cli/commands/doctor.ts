// `eip-agent doctor`: the production wiring of lifecycle/doctor.ts and its output. The
// Kubernetes client and the kubeconfig reader (YAML) are loaded only when the doctor runs.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createEc2Client } from '../../adapters/ec2.js';
import { classifyEc2Error } from '../../adapters/ec2-errors.js';
import { createEc2Probe } from '../../adapters/ec2-probe.js';
import { httpRequest } from '../../adapters/http.js';
import { createImdsClient } from '../../adapters/imds-client.js';
import { createImdsPort } from '../../adapters/imds.js';
import { credentialSource, exitCode, report, reportText, type SystemdFacts } from '../../core/doctor.js';
import { runDoctor, type DoctorDeps } from '../../lifecycle/doctor.js';
import { systemTiming } from '../../shared/time.js';
import type { Env, RunConfig } from '../config.js';
import { PATHS, isLiveRoot } from '../install-plan.js';
import type { Out } from './client.js';
import { baseUrl } from './client.js';

export interface DoctorOptions {
  config: RunConfig;
  region: { region: string; input: string } | undefined;
  format: 'json' | 'text';
  /** where `install` put its files (--root) */
  root: string;
  env: Env;
}

export async function doctorCommand(options: DoctorOptions, deps: DoctorDeps, out: Out): Promise<number> {
  const checks = await runDoctor(deps, new AbortController().signal);
  const result = report(checks);
  out.stdout(options.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : reportText(result));
  return exitCode(result);
}

// What makes a shared config or credentials file a source of credentials, rather than
// settings only (a region for `aws eks get-token`).
const CREDENTIAL_KEYS = /^\s*(aws_access_key_id|role_arn|credential_process|sso_session|sso_start_url|web_identity_token_file|login_session)\s*=/im;

function sharedCredentialFiles(env: Env): string[] {
  const files = [env['AWS_SHARED_CREDENTIALS_FILE'] || join(homedir(), '.aws', 'credentials'), env['AWS_CONFIG_FILE'] || join(homedir(), '.aws', 'config')];
  return files.filter((file) => {
    try {
      return CREDENTIAL_KEYS.test(readFileSync(file, 'utf8'));
    } catch {
      return false; // absent or unreadable: the SDK cannot use it either
    }
  });
}

function systemctl(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    // is-enabled exits non-zero for every state but enabled: read its output.
    execFile('systemctl', args, { timeout: 5000 }, (_error, stdout) => resolve(String(stdout).trim() || 'unknown'));
  });
}

async function systemdFacts(options: DoctorOptions): Promise<SystemdFacts> {
  const at = (path: string) => join(options.root, path);
  const facts: SystemdFacts = {
    underSystemd: existsSync(at('/run/systemd/system')),
    unitFile: existsSync(at(PATHS.service)),
    dropIn: existsSync(at(PATHS.dropIn)),
  };
  if (!facts.underSystemd) return facts;
  if (isLiveRoot(options.root) && facts.unitFile) facts.enabled = await systemctl(['is-enabled', 'eip-agent.service']);
  try {
    const res = await httpRequest({ url: `${baseUrl(options.config)}/readyz`, method: 'GET', timeoutMs: 2000 });
    const body = JSON.parse(res.body) as { ready?: unknown; phase?: unknown; reason?: unknown };
    facts.readiness = { ready: body.ready === true, phase: String(body.phase ?? 'unknown'), reason: typeof body.reason === 'string' ? body.reason : null };
  } catch {
    // no daemon answers: the verdict says so
  }
  return facts;
}

export function productionDoctorDeps(options: DoctorOptions): DoctorDeps {
  const { config, env } = options;
  return {
    settings: {
      pool: config.pool,
      deviceIndex: config.deviceIndex,
      privateIp: config.privateIp,
      region: options.region,
      nodeName: config.nodeName,
      kubeconfig: config.kubeconfig,
      imdsEndpoint: config.imdsEndpoint,
    },
    timing: systemTiming,
    imds: createImdsPort(createImdsClient({ endpoint: config.imdsEndpoint })),
    ec2For: (region) => createEc2Probe(createEc2Client({ region })),
    credentials: {
      source: credentialSource({ env, sharedFiles: sharedCredentialFiles(env) }),
      async resolve(region) {
        // The default chain, as the daemon's client resolves it; the region only names the client.
        const client = createEc2Client({ region: region ?? 'us-east-1' });
        try {
          await client.config.credentials();
        } catch (error) {
          throw classifyEc2Error('credentials', error) ?? error;
        } finally {
          client.destroy();
        }
      },
    },
    async kube() {
      const [{ loadKubeconfig }, { createKubeProbe }] = await Promise.all([import('../../adapters/kubeconfig.js'), import('../../adapters/kube-review.js')]);
      const target = await loadKubeconfig(config.kubeconfig);
      return target ? { probe: createKubeProbe(target), server: target.server } : 'missing';
    },
    systemd: () => systemdFacts(options),
  };
}
