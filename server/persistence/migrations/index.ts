import { InitialSchema1767225600000 } from "./1767225600000-InitialSchema";

/** Every migration, oldest first. Add new ones at the end. */
export const migrations = [InitialSchema1767225600000];
