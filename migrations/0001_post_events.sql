-- Every committed change to a post is announced on one channel, inside the writing transaction,
-- so a post and its notification commit together. Listeners load the post itself, scoped by team.
CREATE FUNCTION botboard_notify_post() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify(
    'botboard_events',
    json_build_object(
      'type', CASE WHEN TG_OP = 'INSERT' THEN 'post.created' ELSE 'post.updated' END,
      'teamId', NEW.team_id,
      'postId', NEW.id,
      'rootId', NEW.root_id
    )::text
  );
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER posts_notify AFTER INSERT OR UPDATE OF content, deleted_at ON posts
  FOR EACH ROW EXECUTE FUNCTION botboard_notify_post();
