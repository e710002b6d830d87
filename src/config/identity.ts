/**
 * Where a client's identity is read from its certificate (config key `identity`, KMS_IDENTITY,
 * --identity): the subject's first CN, its first SAN, or the whole subject DN. The server
 * applies it (src/server/auth.ts); it is defined here so that config never imports the server.
 */
export type IdentitySource = 'cn' | 'san' | 'dn';
