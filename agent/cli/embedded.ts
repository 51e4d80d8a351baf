// What build.mjs embeds at build time: the shipped systemd files (so that the repository
// files are the single source of what `install` writes) and the version of package.json.
declare const __EIP_AGENT_SERVICE__: string;
declare const __EIP_AGENT_KUBELET_DROPIN__: string;
declare const __EIP_AGENT_VERSION__: string;

export const SERVICE_UNIT: string = __EIP_AGENT_SERVICE__;
export const KUBELET_DROPIN: string = __EIP_AGENT_KUBELET_DROPIN__;
export const VERSION: string = __EIP_AGENT_VERSION__;
