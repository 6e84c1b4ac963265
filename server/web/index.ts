/** The web app's JSON API (`/api`): Sign-In with Ethereum sessions, keys, account, usage, models. */
export { createWebApi, type WebApiInputs, type WebDeps, type WebRouteKit } from "./webApi";
export { postgresWebStores } from "./postgresWebStores";
export { loadWebConfig, type WebConfig } from "./webConfig";
export { principalMaySee, principalOf, requireAccount, type Principal } from "./auth/requireAccount";
export { sessionOf, type Session } from "./auth/sessionAuth";
export type { EscrowInfo, WebStores } from "./webContext";
