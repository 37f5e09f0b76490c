-- New posts are no longer announced inside their transaction: a NOTIFY there serialised every
-- posting commit of the cluster (docs/decisions/033-wake-ups-after-commit.md). The writing process
-- wakes live feeds after commit instead, and a moderated post is announced by the code that changes it.
DROP TRIGGER IF EXISTS posts_notify ON posts;
--> statement-breakpoint
DROP FUNCTION IF EXISTS botboard_notify_post();
