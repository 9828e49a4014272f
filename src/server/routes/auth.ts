/** Sign-in (public), refresh (public: the refresh token is the credential), sign-out, who-am-I, password change and reset redemption. */
import { z } from "zod";
import type { AppDeps } from "../deps.js";
import { principalOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { emailSchema, passwordSchema, slugSchema } from "./schemas.js";

const loginSchema = z.strictObject({ tenant: slugSchema.optional(), email: emailSchema, password: passwordSchema });
const refreshSchema = z.strictObject({ refreshToken: z.string().min(16).max(200) });
const passwordChangeSchema = z.strictObject({ currentPassword: passwordSchema, newPassword: passwordSchema });
const passwordResetSchema = z.strictObject({
  token: z.string().regex(/^vrt_[A-Za-z0-9_-]{43}$/, "expected a vrt_ reset token"),
  newPassword: passwordSchema,
});

const tags = ["auth"];

function sessionRoutes(router: ApiRouter, deps: AppDeps): void {
  const { sessions } = deps.identity;

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/auth/login",
      operationId: "login",
      summary: "Sign in: an access token and a refresh token",
      description: "Without `tenant`, signs in to the platform tenant.",
      tags,
      scopes: "public",
      body: loginSchema,
      responses: {
        200: { description: "the token pair" },
        401: { description: "wrong tenant, email or password (not told apart)" },
        429: { description: "too many failed attempts; Retry-After says when to try again" },
      },
    },
    async (c, { body }) =>
      c.json(
        await sessions.login({ ...body, client: c.req.header("user-agent") ?? "", address: c.get("clientAddress") }),
      ),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/auth/refresh",
      operationId: "refreshSession",
      summary: "Exchange a refresh token for a new token pair (the old refresh token is spent)",
      tags,
      scopes: "public",
      body: refreshSchema,
      responses: {
        200: { description: "the new token pair" },
        401: { description: "the refresh token is invalid, spent or expired" },
      },
    },
    async (c, { body }) => c.json(await sessions.refresh(body.refreshToken)),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/auth/logout",
      operationId: "logout",
      summary: "End the caller's session",
      tags,
      scopes: ["self"],
      responses: {
        204: { description: "the session is ended" },
        422: { description: "the credential is not a session (a personal access token is revoked instead)" },
      },
    },
    async (c) => {
      await sessions.logout(principalOf(c));
      return c.body(null, 204);
    },
  );
}

function passwordRoutes(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/me/password",
      operationId: "changeOwnPassword",
      summary: "Change your password: the current one is required; your other sessions end",
      description:
        "Throttled like sign-in (the same counters). The session making the call stays; personal access tokens stay and are counted in the answer.",
      tags,
      scopes: ["self"],
      body: passwordChangeSchema,
      responses: {
        200: { description: "changed: `sessionsEnded`, `personalTokensKept`" },
        403: { description: "the current password is wrong" },
        422: { description: "the new password is refused by the policy, or the account has no password (an agent)" },
        429: { description: "too many failed attempts; Retry-After says when to try again" },
      },
    },
    async (c, { body }) =>
      c.json(await deps.identity.passwordFlows.changeOwnPassword(principalOf(c), body, c.get("clientAddress"))),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/auth/password-reset",
      operationId: "redeemPasswordReset",
      summary: "Set a new password with a one-time reset token from your administrator",
      description:
        "Ends every session and personal access token of the account. The token is spent only when the new password is accepted.",
      tags,
      scopes: "public",
      body: passwordResetSchema,
      responses: {
        204: { description: "the password is set; sign in with it" },
        401: { description: "the reset token is invalid, spent or expired" },
        422: { description: "the new password is refused by the policy (the token is not spent)" },
        429: { description: "too many failed attempts from this address; Retry-After says when to try again" },
      },
    },
    async (c, { body }) => {
      await deps.identity.passwordFlows.redeemPasswordReset(body.token, body.newPassword, c.get("clientAddress"));
      return c.body(null, 204);
    },
  );
}

export function authRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  sessionRoutes(router, deps);
  passwordRoutes(router, deps);

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/me",
      operationId: "getMe",
      reads: "content",
      summary: "Who am I: user, tenant, scopes and credential",
      tags,
      scopes: ["self"],
      responses: { 200: { description: "the caller" } },
    },
    async (c) => {
      const principal = principalOf(c);
      return c.json({
        user: await deps.identity.accounts.currentUser(principal),
        tenant: { id: principal.tenantId, kind: principal.tenantKind },
        scopes: [...principal.scopes].sort(),
        credential: principal.credential.kind,
        projectId: principal.projectId,
      });
    },
  );

  return router;
}
