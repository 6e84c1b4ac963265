import { InitialSchema1767225600000 } from "./1767225600000-InitialSchema";
import { Vouchers1767398400000 } from "./1767398400000-Vouchers";
import { Sessions1767484800000 } from "./1767484800000-Sessions";
import { ChainWatcher1767312000000 } from "./1767312000000-ChainWatcher";
import { UpstreamHealthAndRemoval1767571200000 } from "./1767571200000-UpstreamHealthAndRemoval";

/** Every migration, oldest first. Add new ones at the end. */
export const migrations = [
  InitialSchema1767225600000,
  Vouchers1767398400000,
  Sessions1767484800000,
  ChainWatcher1767312000000,
  UpstreamHealthAndRemoval1767571200000,
];
