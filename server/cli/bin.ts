import { main } from "./main";

// The CLI's entry: `bin/shareai.js` loads it under tsx, `npm run build:server` bundles it into dist/shareai.cjs.
main();
