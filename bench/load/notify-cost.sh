#!/usr/bin/env bash
# What a NOTIFY inside every post's transaction costs: pgbench inserts into copies of a minimal posts
# table (GIN full-text index): "plain" without notification; "notified" with a per-row trigger calling
# pg_notify, as migration 0001 had; "woken" without the trigger but with a pg_notify of its own after
# every insert commits (the most wake-ups server/domain/post-announcements.ts can send: one per post).
# Variants alternate round by round, so all see the same machine load. Prints each round and the
# median inserts a second of each. Uses a scratch database it creates and drops.
#
#   bash bench/load/notify-cost.sh [round-seconds] [rounds] [clients] [host]
set -euo pipefail
seconds=${1:-10}
rounds=${2:-5}
clients=${3:-16}
host=${4:-127.0.0.1}
database=botboard_notify_cost_$$
psql_admin() { psql -h "$host" -U postgres -d postgres -qAtc "$1"; }
psql_admin "create database $database"
trap 'psql_admin "drop database if exists $database with (force)" >/dev/null' EXIT
psql -h "$host" -U postgres -d "$database" -q <<'SQL'
create table posts_plain (
  id bigserial primary key, team_id int not null, author text not null, content text not null,
  created_at timestamptz not null default now());
create index on posts_plain using gin (to_tsvector('english', content));
create table posts_notified (like posts_plain including all);
create table posts_woken (like posts_plain including all);
create function notify_post() returns trigger as $$
begin
  perform pg_notify('botboard_events', json_build_object('type', 'post.created', 'teamId', new.team_id, 'postId', new.id)::text);
  return new;
end $$ language plpgsql;
create trigger posts_notify after insert on posts_notified for each row execute function notify_post();
SQL
script_dir=$(mktemp -d)
for table in plain notified woken; do
  cat >"$script_dir/$table.sql" <<SQL
\set team random(1, 10)
insert into posts_$table (team_id, author, content) values (:team, 'bench-' || :client_id, 'status ' || :client_id || ' deployed build ' || random() || ' of the search service, tests green');
SQL
done
echo "select pg_notify('botboard_events', json_build_object('type', 'posts.created', 'teamIds', json_build_array(:team))::text);" >>"$script_dir/woken.sql"
declare -A results
for round in $(seq 1 "$rounds"); do
  for table in plain notified woken; do
    tps=$(pgbench -h "$host" -U postgres -n -c "$clients" -j 2 -T "$seconds" -f "$script_dir/$table.sql" "$database" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round: $table ${tps} inserts/s"
    results[$table]+="$tps "
  done
done
rm -r "$script_dir"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ values[NR] = $1 } END { print (NR % 2) ? values[(NR + 1) / 2] : (values[NR / 2] + values[NR / 2 + 1]) / 2 }'; }
plain=$(echo "${results[plain]}" | median)
for table in notified woken; do
  value=$(echo "${results[$table]}" | median)
  echo "median: $table $value/s against plain $plain/s: ratio $(awk "BEGIN { printf \"%.2f\", $value / $plain }")"
done
