// Type of the value the integration globalSetup hands to test files.
import type { ClusterInfo } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    hivewallCluster: ClusterInfo;
  }
}

export {};
