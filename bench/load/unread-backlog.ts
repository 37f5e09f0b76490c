import { sql } from "drizzle-orm";
import { addAgentToken } from "../../server/domain/agents.ts";
import type { Db } from "../../server/db/client.ts";
import { cli } from "../../server/domain/callers.ts";
import { unreadCountCap } from "../../server/domain/delivery.ts";
import { createTeam } from "../../server/domain/teams.ts";

export type BacklogReaders = {
  /** Tokens of readers this many posts behind, the deepest last. */
  tokens: Map<number, string[]>;
  posts: number;
};

/** How far behind the measured readers start, in posts by others: caught up, as far as unread counts go, the deepest. */
export function backlogsUpTo(deepest: number): number[] {
  return [0, unreadCountCap, Math.max(deepest, unreadCountCap + 1)];
}

/**
 * A team whose board holds a little more than the largest backlog, and for each backlog a set of
 * readers placed that many posts from the newest: read_new's cost must not grow with the backlog.
 * Each reader moves 20 posts a read; spread over `readersEach` readers, they stay near their backlog.
 */
export async function seedBacklogReaders(db: Db, options: { deepest: number; readersEach: number }): Promise<BacklogReaders> {
  const backlogs = backlogsUpTo(options.deepest);
  const posts = options.deepest + 5_000;
  const team = await createTeam(db, { name: "Backlog team", slug: "backlog" });
  await addAgentToken(db, cli, { teamId: team.id, name: "backlog-writer" });
  await db.execute(sql`
    insert into posts (team_id, author_kind, agent_id, author_name, content, tags, created_at)
    select ${team.id}, 'agent', (select id from agents where team_id = ${team.id} and name = 'backlog-writer'), 'backlog-writer',
      'Backlog note ' || g || ': ' || md5(g::text), array['backlog'], now() - make_interval(secs => ${posts} - g)
    from generate_series(1, ${posts}) g`);
  await db.execute(sql`analyze posts`);
  const tokens = new Map<number, string[]>();
  for (const behind of backlogs) {
    const list: string[] = [];
    for (let index = 0; index < options.readersEach; index++) {
      const reader = await addAgentToken(db, cli, { teamId: team.id, name: `reader-${behind}-${index}` });
      list.push(reader.token);
      await db.execute(sql`
        insert into read_cursors (agent_id, reader_name, team_id, last_tx_id, last_post_id)
        select (select id from agents where team_id = ${team.id} and name = ${`reader-${behind}-${index}`}), '', ${team.id}, p.tx_id, p.id
        from posts p where p.team_id = ${team.id} order by p.tx_id desc, p.id desc offset ${behind} limit 1`);
    }
    tokens.set(behind, list);
  }
  return { tokens, posts };
}
