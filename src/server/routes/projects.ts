/** Projects and their members. Visibility follows membership; see src/graph/projects.ts. */
import { Hono } from "hono";
import { z } from "zod";
import { createProject, getProject, listMembers, listProjects, removeMember, setMember, updateProject } from "../../graph/projects.js";
import type { AppDeps, AppEnv } from "../app.js";
import { jsonBody } from "../json-body.js";
import { principalOf, requireScope, tenantDbOf } from "../middleware/require-scope.js";
import { idParam, queryOf } from "./params.js";
import { nameSchema, pageSchema } from "./schemas.js";

const createSchema = z.strictObject({ name: nameSchema });
const updateSchema = z
  .strictObject({ name: nameSchema.optional(), status: z.enum(["active", "archived"]).optional() })
  .refine((u) => Object.keys(u).length > 0, "nothing to change");
const memberSchema = z.strictObject({ role: z.enum(["editor", "viewer"]) });

export function projectRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const auth = deps.identity.authenticator;
  const read = requireScope(auth, "graph:read");
  const write = requireScope(auth, "graph:write");
  const admin = requireScope(auth, "tenant:admin");

  routes.get("/api/projects", read, async (c) => {
    const page = queryOf(c, pageSchema);
    return c.json({ projects: await listProjects(deps.graph, tenantDbOf(deps, c), principalOf(c), page.after, page.limit) });
  });

  routes.post("/api/projects", write, async (c) => {
    const input = await jsonBody(c, createSchema);
    return c.json({ project: await createProject(deps.graph, tenantDbOf(deps, c), principalOf(c), input) }, 201);
  });

  routes.get("/api/projects/:projectId", read, async (c) =>
    c.json({ project: await getProject(deps.graph, tenantDbOf(deps, c), principalOf(c), idParam(c, "projectId")) }),
  );

  routes.patch("/api/projects/:projectId", write, async (c) => {
    const projectId = idParam(c, "projectId");
    const input = await jsonBody(c, updateSchema);
    return c.json({ project: await updateProject(deps.graph, tenantDbOf(deps, c), principalOf(c), projectId, input) });
  });

  /** Archives (soft delete); PATCH status "active" restores. */
  routes.delete("/api/projects/:projectId", write, async (c) => {
    await updateProject(deps.graph, tenantDbOf(deps, c), principalOf(c), idParam(c, "projectId"), { status: "archived" });
    return c.body(null, 204);
  });

  routes.get("/api/projects/:projectId/members", read, (c) =>
    c.json({ members: listMembers(tenantDbOf(deps, c), principalOf(c), idParam(c, "projectId")) }),
  );

  routes.put("/api/projects/:projectId/members/:userId", admin, async (c) => {
    const projectId = idParam(c, "projectId");
    const userId = idParam(c, "userId");
    const input = await jsonBody(c, memberSchema);
    return c.json({ member: await setMember(deps.graph, tenantDbOf(deps, c), principalOf(c), projectId, userId, input.role) });
  });

  routes.delete("/api/projects/:projectId/members/:userId", admin, async (c) => {
    await removeMember(deps.graph, tenantDbOf(deps, c), principalOf(c), idParam(c, "projectId"), idParam(c, "userId"));
    return c.body(null, 204);
  });

  return routes;
}
