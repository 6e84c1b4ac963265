#!/usr/bin/env node
"use strict";
// Runs the TypeScript CLI without a build step: tsx compiles each module as it is required.
// `npm start` runs the same CLI as a prebuilt bundle instead (dist/shareai.cjs, `npm run build:server`).
require("tsx/cjs");
require("../server/cli/bin");
