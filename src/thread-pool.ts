/**
 * Sizes libuv's thread pool (src/config.ts, sizeThreadPool) before anything can use it: libuv
 * reads UV_THREADPOOL_SIZE once, when the pool starts on its first job, so this module is imported
 * right after the Node version check in src/main.ts and before every other module.
 */
import { sizeThreadPool } from "./config.js";

sizeThreadPool();
