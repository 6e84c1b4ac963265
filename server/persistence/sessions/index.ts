export { PostgresNonceStore, type IssuedNonce, type NewNonce, type NonceClaim } from "./nonceStore";
export { PostgresSessionStore, type NewSession, type Session } from "./sessionStore";
