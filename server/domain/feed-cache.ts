import type { Db } from "../db/client.ts";
import { logger } from "../logger.ts";
import type { EventHub } from "./events.ts";

/**
 * The newest page of each team's whole feed, kept in memory by each server process, so the read most
 * clients make most often costs no statement (docs/decisions/034-feed-first-page-cache.md). A page
 * holds nothing about its reader, so one team's readers share it; nothing is ever shared across teams.
 *
 * A page is dropped when the team's posts change: at once in the process that wrote them (the writer
 * calls `feedChanged` after commit), and in every process when the change's announcement arrives
 * (the wake-ups the live feeds already get). A read that began before a change is never kept after it.
 * A lost announcement (its writer died after commit) leaves a page stale for at most `firstPageMaxAgeMs`.
 */

/** The longest a page is served from memory: what a lost wake-up costs, as the live feeds' safety poll (live-feed.ts). */
export const firstPageMaxAgeMs = 2_000;
/** Teams whose pages are kept (each costs one subscription to the team's events); the least recently read go first. */
const maxTeams = 1_000;
/** Characters of post text kept over all teams (about 32 MB); a full page of the longest posts is 1.6 million. */
const maxCachedChars = 16 * 1024 * 1024;

/** What the cache needs of a post: its text, to weigh it. (Not posts.ts's type: posts.ts calls this module.) */
type CachedPost = { content: string };

/** The newest posts of one view of a team's feed: `size` posts and one more, which says whether more follow. */
type FirstPage = { posts: readonly CachedPost[]; size: number; readAt: number; chars: number };
type Loading = { generation: number; size: number; posts: Promise<readonly CachedPost[]> };

type TeamPages = {
  teamId: string;
  /** Counts the team's changes: a read that began at an older one is not kept. */
  generation: number;
  /** By view: the whole feed, or only the posts that start a thread. */
  pages: Map<boolean, FirstPage>;
  loading: Map<boolean, Loading>;
  /** The largest page asked for, so readers asking for fewer share one read. */
  largestSize: Map<boolean, number>;
  subscribed: Promise<void>;
  unsubscribe?: () => void;
};

class FirstPageCache {
  private readonly teams = new Map<string, TeamPages>();
  private cachedChars = 0;
  private closed = false;

  constructor(
    private readonly hub: EventHub,
    private readonly maxAgeMs: number,
  ) {}

  /** Up to `size + 1` of the newest posts of the team's view, from memory or from `load`. */
  async read(
    teamId: string,
    topLevel: boolean,
    size: number,
    load: (size: number) => Promise<CachedPost[]>,
  ): Promise<readonly CachedPost[]> {
    if (this.closed) return load(size);
    const team = this.teams.get(teamId) ?? this.follow(teamId);
    // Most recently read last: the first team in the map is the one to forget.
    this.teams.delete(teamId);
    this.teams.set(teamId, team);
    try {
      await team.subscribed;
    } catch {
      return load(size);
    }
    const page = team.pages.get(topLevel);
    if (page && page.size >= size && Date.now() - page.readAt < this.maxAgeMs) return page.posts.slice(0, size + 1);
    const pending = team.loading.get(topLevel);
    if (pending && pending.generation === team.generation && pending.size >= size) return (await pending.posts).slice(0, size + 1);
    const largest = Math.max(size, team.largestSize.get(topLevel) ?? 0);
    team.largestSize.set(topLevel, largest);
    const loading: Loading = { generation: team.generation, size: largest, posts: this.load(team, topLevel, largest, load) };
    team.loading.set(topLevel, loading);
    try {
      return (await loading.posts).slice(0, size + 1);
    } finally {
      if (team.loading.get(topLevel) === loading) team.loading.delete(topLevel);
    }
  }

  private async load(
    team: TeamPages,
    topLevel: boolean,
    size: number,
    load: (size: number) => Promise<CachedPost[]>,
  ): Promise<readonly CachedPost[]> {
    const generation = team.generation;
    const readAt = Date.now();
    const posts = (await load(size)).map(frozen);
    // Kept only if nothing changed since the read began, and the team was not forgotten meanwhile.
    if (team.generation === generation && !this.closed && this.teams.get(team.teamId) === team) {
      this.forgetPage(team, topLevel);
      const chars = posts.reduce((sum, post) => sum + post.content.length, 0);
      team.pages.set(topLevel, { posts, size, readAt, chars });
      this.cachedChars += chars;
      this.keepWithinBounds();
    }
    return posts;
  }

  /** The team's posts changed: its pages go, and reads that began before the change are not kept. */
  changed(teamId: string): void {
    const team = this.teams.get(teamId);
    if (!team) return;
    team.generation++;
    team.loading.clear();
    this.forgetPage(team, true);
    this.forgetPage(team, false);
  }

  private follow(teamId: string): TeamPages {
    const team: TeamPages = {
      teamId,
      generation: 0,
      pages: new Map(),
      loading: new Map(),
      largestSize: new Map(),
      subscribed: Promise.resolve(),
    };
    team.subscribed = this.hub
      .subscribe(teamId, {
        onEvent: (event) => {
          if (event.type !== "sessions.ended") this.changed(teamId);
        },
        // Announcements sent while the database was away were lost: every team's pages may be stale.
        onResume: () => this.forgetAll(),
        onClose: () => {
          this.closed = true;
          this.forgetAll();
        },
      })
      .then(
        (unsubscribe) => {
          team.unsubscribe = unsubscribe;
        },
        (error: unknown) => {
          if (this.teams.get(teamId) === team) this.teams.delete(teamId);
          logger.warn({ error: String(error) }, "could not follow a team's events; its feed is read without the cache");
          throw error;
        },
      );
    team.subscribed.catch(() => undefined);
    return team;
  }

  private forgetAll(): void {
    for (const teamId of [...this.teams.keys()]) this.changed(teamId);
  }

  private forgetPage(team: TeamPages, topLevel: boolean): void {
    const page = team.pages.get(topLevel);
    if (!page) return;
    team.pages.delete(topLevel);
    this.cachedChars -= page.chars;
  }

  private keepWithinBounds(): void {
    for (const [teamId, team] of this.teams) {
      if (this.teams.size <= maxTeams && this.cachedChars <= maxCachedChars) return;
      this.changed(teamId);
      this.teams.delete(teamId);
      void team.subscribed.then(() => team.unsubscribe?.()).catch(() => undefined);
    }
  }
}

/** A cached post is shared by every reader of its team: nothing may change it, nor its author, tags or mentions. */
function frozen<T extends CachedPost>(post: T): T {
  for (const value of Object.values(post) as unknown[]) {
    if (typeof value === "object" && value !== null && !(value instanceof Date)) Object.freeze(value);
  }
  return Object.freeze(post);
}

/**
 * `derive` of a post, kept with the post while the cache shares it: a cached post is frozen and read
 * by every reader of its team, so what each request would derive from it again (its JSON for the
 * REST feed; its header, visible text and JSON for MCP) is derived once. A post that is not frozen is derived on every call.
 */
export function derivedOncePerCachedPost<P extends object, R>(derive: (post: P) => R): (post: P) => R {
  const derived = new WeakMap<P, R>();
  return (post) => {
    if (derived.has(post)) return derived.get(post)!;
    const value = derive(post);
    if (Object.isFrozen(post)) derived.set(post, value);
    return value;
  };
}

const caches = new WeakMap<Db, FirstPageCache>();

/**
 * Serves the first page of each team's feed from memory for this database handle: call once per
 * server process, with the hub whose events tell it what changed (server/main.ts). `maxAgeMs` bounds
 * how stale a lost announcement can leave a page.
 */
export function cacheFeedFirstPages(db: Db, hub: EventHub, { maxAgeMs = firstPageMaxAgeMs } = {}): void {
  if (!caches.has(db)) caches.set(db, new FirstPageCache(hub, maxAgeMs));
}

/**
 * Up to `size + 1` of the newest posts of a team's whole feed (or of its thread starters), from the
 * cache when this handle has one, else from `load`.
 */
export function readFirstPage<T extends CachedPost>(
  db: Db,
  teamId: string,
  topLevel: boolean,
  size: number,
  load: (size: number) => Promise<T[]>,
): Promise<readonly T[]> {
  const cache = caches.get(db);
  // Only the feed (feed.ts) stores posts here, always of its own type.
  return cache ? (cache.read(teamId, topLevel, size, load) as Promise<readonly T[]>) : load(size);
}

/**
 * The team's posts changed (written, replied to, removed, renamed): call after the change committed,
 * so this process's next read shows it. Other processes learn it from the change's announcement.
 */
export function feedChanged(db: Db, teamId: string): void {
  caches.get(db)?.changed(teamId);
}
