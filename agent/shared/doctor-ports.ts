// The ports of `eip-agent doctor` and `eip-agent pool`: read-only questions to EC2 and the
// API server. EC2 is asked only Describe* and DryRun; Kubernetes only reviews and dryRun=All
// writes: nothing here changes anything.
import type { AddressView, AssociateRequest, MetadataOptions } from './ports.js';

/** What a DryRun answered: allowed (DryRunOperation), or refused by IAM. */
export type DryRunAnswer =
  | { allowed: true }
  /** `encoded`: EC2's encoded authorization failure message, for `aws sts decode-authorization-message` */
  | { allowed: false; code: string; message: string; encoded?: string };

/** EC2's clock against ours, from the Date header of an answer. */
export interface ClockReading {
  /** EC2's Date minus our clock at the middle of the request */
  skewMs: number;
  /** half the round trip plus half the header's one-second resolution */
  uncertaintyMs: number;
}

export interface Ec2Probe {
  /** DescribeAddresses with a `tag-key` filter: every address carrying the key, any value; and EC2's clock as its answer showed it */
  listCarrying(tagKey: string): Promise<{ addresses: AddressView[]; clock: ClockReading | undefined }>;
  /** AssociateAddress(DryRun, AllowReassociation=false) */
  dryRunAssociate(request: AssociateRequest): Promise<DryRunAnswer>;
  /** DisassociateAddress(DryRun) */
  dryRunDisassociate(associationId: string): Promise<DryRunAnswer>;
  /** DescribeInstances: instance id → private DNS name (the EKS node name by default); unknown ids are left out */
  instanceNames(instanceIds: readonly string[]): Promise<Map<string, string>>;
  metadataOptions(instanceId: string): Promise<MetadataOptions | undefined>;
}

/** A SelfSubjectAccessReview's question. */
export interface AccessQuestion {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** e.g. spec.nodeName=NODE: the Node authorizer lets a node list its own pods only */
  fieldSelector?: string;
}

export interface KubeProbe {
  /** SelfSubjectReview: who the kubeconfig's credentials are */
  whoAmI(): Promise<string>;
  canI(question: AccessQuestion): Promise<{ allowed: boolean; reason: string }>;
  /** a merge patch of the Node's labels with dryRun=All: admission (NodeRestriction) judges it, nothing is stored */
  dryRunLabel(nodeName: string, labels: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}
