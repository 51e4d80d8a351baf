// Shared set-up for tests that drive the simulated EC2 endpoint with the real SDK client.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SignatureV4 } from '@smithy/signature-v4';
import type { EC2ClientConfig } from '@aws-sdk/client-ec2';
import { World } from './world.js';
import type { Instance, WorldOptions } from './world.js';
import { startEc2 } from './ec2.js';
import type { Ec2Sim, Ec2SimOptions } from './ec2.js';
import { NodeSha256 } from './ec2-auth.js';

export interface Ec2Fixture {
  world: World;
  sim: Ec2Sim;
  /** a single-interface instance whose role credentials sign by default */
  instance: Instance;
  /** an SDK client against the sim; one attempt unless told otherwise */
  client(config?: Partial<EC2ClientConfig>): EC2Client;
}

export async function ec2Fixture(t: TestContext, options: Ec2SimOptions = {}, worldOptions: WorldOptions = {}): Promise<Ec2Fixture> {
  const world = new World(worldOptions);
  const instance = world.addInstance();
  const sim = await startEc2(world, options);
  const clients: EC2Client[] = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    await sim.close();
  });
  return {
    world,
    sim,
    instance,
    client(config = {}) {
      const c = new EC2Client({
        region: world.region,
        endpoint: sim.url,
        credentials: instance.credentials,
        maxAttempts: 1,
        ...config,
      });
      clients.push(c);
      return c;
    },
  };
}

interface SdkError {
  name: string;
  message: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Awaits a rejection and checks the EC2 code and HTTP status as the SDK surfaces them. */
export async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<SdkError> {
  const error = (await promise.then(
    () => assert.fail(`expected ${code}, the call succeeded`),
    (e: unknown) => e,
  )) as SdkError;
  assert.equal(error.name, code, error.message);
  assert.equal(error.$metadata?.httpStatusCode, status);
  return error;
}

/** POSTs `body` to the sim signed with `credentials`, bypassing the SDK (for bad requests). */
export async function signedPost(
  sim: Ec2Sim,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  body: string,
): Promise<{ status: number; text: string; date: string | null }> {
  const url = new URL(sim.url);
  const signer = new SignatureV4({ credentials, region, service: 'ec2', sha256: NodeSha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const { host: _host, ...headers } = signed.headers;
  const response = await fetch(`${sim.url}/`, { method: 'POST', headers, body });
  return { status: response.status, text: await response.text(), date: response.headers.get('date') };
}
