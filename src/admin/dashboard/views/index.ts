/**
 * The dashboard's views and panels. Adding one = a module beside this file, listed here
 * (docs/dashboard.md). The first view is the default (?view= absent).
 */
import { cache } from "./cache";
import { interceptionPanel } from "./interception";
import { limits } from "./limits";
import { overview } from "./overview";
import { redactions } from "./redactions";
import { session } from "./session";
import { user } from "./user";
import type { Panel, View } from "./view";

export const VIEWS: View[] = [overview, user, session, cache, limits, redactions];

export const PANELS: Panel[] = [interceptionPanel];
