// rqvae's Node.js entry (package.json `exports`, condition `node`): the exports of js/index.js,
// reading files from disk and encoding on worker threads. Its body runs after every module it
// imports and before any code that imports it, so no call ever sees the browser platform.

import { nodePlatform } from './node-platform.js';
import { usePlatform } from './platform.js';

usePlatform(nodePlatform);

export * from './index.js';
