// The shipped systemd files, embedded at build time from systemd/ (build.mjs defines
// them) so that the repository files are the single source of what `install` writes.
declare const __EIP_AGENT_SERVICE__: string;
declare const __EIP_AGENT_KUBELET_DROPIN__: string;

export const SERVICE_UNIT: string = __EIP_AGENT_SERVICE__;
export const KUBELET_DROPIN: string = __EIP_AGENT_KUBELET_DROPIN__;
