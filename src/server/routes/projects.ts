/** Projects and their members. Visibility follows membership; see src/graph/projects.ts. */
import { z } from "zod";
import {
  createProject,
  getProject,
  listMembers,
  listProjects,
  removeMember,
  setMember,
  updateProject,
} from "../../graph/projects.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { ApiRouter, defineRoute } from "../route.js";
import { nameSchema, nothingToChange, pageSchema } from "./schemas.js";

const createSchema = z.strictObject({ name: nameSchema });
const updateSchema = nothingToChange(
  z.strictObject({ name: nameSchema.optional(), status: z.enum(["active", "archived"]).optional() }),
);
const memberSchema = z.strictObject({ role: z.enum(["editor", "viewer"]) });
const listQuery = pageSchema.extend({ includeArchived: z.enum(["true", "false"]).default("false") });

const tags = ["projects"];
const read = ["graph:read"] as const;
const write = ["graph:write"] as const;

function projectCrud(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects",
      operationId: "listProjects",
      reads: "content",
      summary: "The projects the caller can see (archived ones with includeArchived=true)",
      tags,
      scopes: read,
      query: listQuery,
      responses: { 200: { description: "a page of projects" } },
    },
    async (c, { query }) =>
      c.json({
        projects: await listProjects(deps.graph, tenantDbOf(deps, c), principalOf(c), {
          ...query,
          includeArchived: query.includeArchived === "true",
        }),
      }),
  );

  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects",
      operationId: "createProject",
      summary: "Create a project (the caller becomes its editor)",
      tags,
      scopes: write,
      body: createSchema,
      responses: {
        201: { description: "the project" },
        403: { description: "lacks scope graph:write, or the token is restricted to a project" },
      },
    },
    async (c, { body }) =>
      c.json({ project: await createProject(deps.graph, tenantDbOf(deps, c), principalOf(c), body) }, 201),
  );

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects/:projectId",
      operationId: "getProject",
      reads: "content",
      summary: "One project",
      tags,
      scopes: read,
      responses: { 200: { description: "the project" } },
    },
    async (c, { params }) =>
      c.json({ project: await getProject(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId) }),
  );

  defineRoute(
    router,
    {
      method: "patch",
      path: "/api/projects/:projectId",
      operationId: "updateProject",
      summary: "Rename, archive or restore a project (restoring: tenant admins)",
      tags,
      scopes: write,
      body: updateSchema,
      responses: {
        200: { description: "the updated project" },
        403: {
          description: "lacks scope graph:write, may only read this project, or restores without being a tenant admin",
        },
      },
    },
    async (c, { params, body }) =>
      c.json({ project: await updateProject(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, body) }),
  );

  /** Archives (soft delete); PATCH status "active" restores (tenant admins), POST .../erase deletes for good. */
  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/projects/:projectId",
      operationId: "archiveProject",
      summary: 'Archive a project (PATCH status "active" restores it)',
      tags,
      scopes: write,
      responses: { 204: { description: "the project is archived" } },
    },
    async (c, { params }) => {
      await updateProject(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, { status: "archived" });
      return c.body(null, 204);
    },
  );
}

function memberRoutes(router: ApiRouter, deps: AppDeps): void {
  const admin = ["tenant:admin"] as const;

  defineRoute(
    router,
    {
      method: "get",
      path: "/api/projects/:projectId/members",
      operationId: "listProjectMembers",
      reads: "content",
      summary: "A project's members",
      tags,
      scopes: read,
      responses: { 200: { description: "the members" } },
    },
    (c, { params }) => c.json({ members: listMembers(tenantDbOf(deps, c), principalOf(c), params.projectId) }),
  );

  defineRoute(
    router,
    {
      method: "put",
      path: "/api/projects/:projectId/members/:userId",
      operationId: "setProjectMember",
      summary: "Add a member or change its role",
      tags,
      scopes: admin,
      body: memberSchema,
      responses: {
        200: { description: "the membership" },
        422: {
          description: "the body does not match the schema, or the user is a tenant admin (who reaches every project)",
        },
      },
    },
    async (c, { params, body }) =>
      c.json({
        member: await setMember(
          deps.graph,
          tenantDbOf(deps, c),
          principalOf(c),
          params.projectId,
          params.userId,
          body.role,
        ),
      }),
  );

  defineRoute(
    router,
    {
      method: "delete",
      path: "/api/projects/:projectId/members/:userId",
      operationId: "removeProjectMember",
      summary: "Remove a member",
      tags,
      scopes: admin,
      responses: { 204: { description: "the member is removed" } },
    },
    async (c, { params }) => {
      await removeMember(deps.graph, tenantDbOf(deps, c), principalOf(c), params.projectId, params.userId);
      return c.body(null, 204);
    },
  );
}

export function projectRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  projectCrud(router, deps);
  memberRoutes(router, deps);
  return router;
}
