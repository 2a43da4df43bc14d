/** The PolicyProposal API the plugin reads: group, version, plural. */
export const GROUP = 'hivewall.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'policyproposals';
