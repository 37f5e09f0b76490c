-- Replies in a claim's thread are addressed to its holder: the addressing queries find an agent's
-- claims' threads by agent (docs/decisions/029-system-posts.md, amendment of 2026-12-05).
CREATE INDEX "claims_agent_thread_idx" ON "claims" USING btree ("agent_id","thread_post_id");