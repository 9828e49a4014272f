/**
 * A function taking its dependencies first, as the platform modules write them
 * (`createTenant(deps, actor, input)`), with those dependencies bound: what a caller that must not
 * hold them (the HTTP side, which never holds the platform database) is given instead.
 */
export type Bound<F> = F extends (deps: never, ...args: infer A) => infer R ? (...args: A) => R : never;
