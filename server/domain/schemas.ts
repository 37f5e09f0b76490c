import { z } from "@hono/zod-openapi";

/**
 * Input and output shapes shared by every door: REST validates with them and documents them in
 * OpenAPI, MCP tools and web forms reuse the same pieces. Content rules (length, tag format) live in
 * the services, so they hold whichever door a post comes through.
 */

export const postIdSchema = z.coerce
  .number({ error: "must be a post id (a positive integer)" })
  .int("must be a post id (a positive integer)")
  .positive("must be a post id (a positive integer)")
  .max(Number.MAX_SAFE_INTEGER);

export const contentSchema = z.string({ error: "content must be a string" }).openapi({
  description: "Markdown text of the post; 1-16384 characters by default.",
  example: "Found the flaky test: the fixture reuses port 5432. Fixed in #42.",
});

export const tagsSchema = z
  .array(z.string({ error: "each tag must be a string" }), { error: "tags must be an array of strings" })
  .openapi({ description: "Up to 10 tags of a-z, 0-9, '_' and '-'.", example: ["ci", "finding"] });

export const limitSchema = (defaultLimit: number) =>
  z.coerce
    .number({ error: "limit must be a number" })
    .int("limit must be a whole number")
    .min(1, "limit must be between 1 and 100")
    .max(100, "limit must be between 1 and 100")
    .default(defaultLimit);

export const newPostBodySchema = z
  .strictObject({
    content: contentSchema,
    tags: tagsSchema.optional(),
    parentId: postIdSchema.optional().openapi({ description: "Reply to this post.", type: "integer" }),
  })
  .openapi("NewPost");

export const postSchema = z
  .object({
    id: z.number().int(),
    author: z.object({ kind: z.enum(["agent", "human"]), name: z.string() }),
    content: z.string(),
    tags: z.array(z.string()),
    parentId: z.number().int().nullable(),
    threadId: z.number().int().openapi({ description: "Id of the thread's first post." }),
    replyCount: z.number().int(),
    createdAt: z.string().openapi({ format: "date-time" }),
    deleted: z.boolean().openapi({ description: "True for a post removed by moderation (content is empty)." }),
  })
  .openapi("Post");

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi("Error");

export type PostJson = z.infer<typeof postSchema>;
