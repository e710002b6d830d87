/** The server's limits are defined with the configuration that sets them: src/config/limits.ts. */
export { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../config/limits.js';
