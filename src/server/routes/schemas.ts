/** Request shapes shared by several routes. */
import { z } from "zod";
import { SCOPES, TENANT_ROLES } from "../../vocabulary/roles.js";
import { lineSchema } from "../../text.js";

/** Every field of stored free text uses one of these two (src/text.ts), so one rule holds for all. */
export { lineSchema, multilineSchema } from "../../text.js";

export const emailSchema = z.email({ error: "expected an email address" }).max(254);
/** A person's, tenant's or project's name: one line; surrounding spaces are trimmed (the answer shows the stored value). */
export const nameSchema = lineSchema({ max: 200, trim: true });
/**
 * Length here only bounds the work; the password policy (src/auth/passwords.ts) judges new passwords.
 * Ill-formed Unicode is refused: a lone surrogate turns into U+FFFD when hashed as UTF-8, so
 * "x\ud800" and "x\udfff" would be one password.
 */
export const passwordSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((value) => value.isWellFormed(), "contains a lone surrogate (ill-formed Unicode)");
export const slugSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, "lowercase letters, digits and inner hyphens, 1-40 characters");
export const tenantRoleSchema = z.enum(TENANT_ROLES);
export const idSchema = z.uuid();

export const accountSchema = z.strictObject({ email: emailSchema, name: nameSchema, password: passwordSchema });

export const pageSchema = z.strictObject({
  after: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const tokenRequestSchema = z.strictObject({
  name: lineSchema({ max: 100, trim: true }),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
  projectId: idSchema.nullable().default(null),
  expiresAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
});

/**
 * An update of optional fields refuses an empty body; the metadata says the same in the
 * generated JSON Schema, where a refinement alone would not show.
 */
export function nothingToChange<S extends z.ZodObject>(schema: S): S {
  return schema.refine((u) => Object.keys(u).length > 0, "nothing to change").meta({ minProperties: 1 });
}
