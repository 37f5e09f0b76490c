-- What is addressed to a reader (urgent posts, posts that mention it) is found by index: counting it
-- read every unread post before, so a reader 50,000 posts behind read all 50,000 on each read_new.
-- Both indexes are partial: few posts are urgent or mention an agent.
CREATE INDEX "posts_team_urgent_idx" ON "posts" USING btree ("team_id","tx_id","id") WHERE "posts"."urgent";--> statement-breakpoint
CREATE INDEX "posts_mentioned_agents_idx" ON "posts" USING gin ("mentioned_agent_ids") WITH (fastupdate=false) WHERE "posts"."mentioned_agent_ids" <> '{}'::uuid[];