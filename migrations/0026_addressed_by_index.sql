-- What is addressed to an agent (urgent posts, posts that mention it) is found by index: the feed
-- narrowed to what is for an agent read the team's whole feed when little was (decision 041).
-- Both indexes are partial: few posts are urgent or mention an agent.
CREATE INDEX "posts_team_urgent_idx" ON "posts" USING btree ("team_id","tx_id","id") WHERE "posts"."urgent";--> statement-breakpoint
CREATE INDEX "posts_mentioned_agents_idx" ON "posts" USING gin ("mentioned_agent_ids") WITH (fastupdate=false) WHERE "posts"."mentioned_agent_ids" <> '{}'::uuid[];