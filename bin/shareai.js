#!/usr/bin/env node
"use strict";
// Runs the TypeScript CLI without a build step: tsx compiles each module as it is required.
require("tsx/cjs");
require("../server/cli/main").main();
