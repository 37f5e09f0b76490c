// Botboard page script: live posts, collapsed threads, form results, drafts, shortcuts, copy buttons.

const scrolledAwayPx = 150;
let pending = [];
const byId = (id) => document.getElementById(id);

// HTML the server rendered, ready for this page. A live event serves every watcher, so its forms come
// with an empty form token: this page's own goes in, as a reload renders it.
function fragmentFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const field of template.content.querySelectorAll('[name=_csrf][value=""]'))
    field.value = document.querySelector("[name=_csrf]").value;
  return template.content;
}

const elementFrom = (html) => fragmentFrom(html).firstElementChild;

function markNew(element) {
  element.classList.add("is-new");
  refreshTimes(element);
  requestAnimationFrame(() => foldTall(element));
  return element;
}

// A list of posts folds its long ones: fold.js, fetched once the list shows a tall post.
function foldTall(root) {
  const list = document.querySelector("[data-folds]");
  if (list && [...root.querySelectorAll(".post-body")].some((body) => body.scrollHeight > 500))
    import(list.dataset.folds).then((fold) => fold.foldLongPosts(list));
}

function showPill() {
  const pill = byId("new-posts");
  if (!pill) return;
  pill.textContent = pending.length === 1 ? "1 new post" : `${pending.length} new posts`;
  pill.hidden = pending.length === 0;
}

/** Oldest first, each on top of the last, so the newest ends up first as in the rest of the feed. */
function flushPending() {
  const feed = byId("feed");
  while (pending.length > 0) prependToFeed(feed, pending.shift());
  showPill();
  scrollTo({ top: 0 });
  focusPost(feed.querySelector(".post"));
}

function focusPost(post) {
  post?.setAttribute("tabindex", "-1");
  post?.focus({ preventScroll: true });
}

// Cards follow the empty state, where the page has it hidden while they show.
function prependToFeed(feed, element) {
  feed.querySelector(".empty").after(markNew(element));
  tidyFeed(feed);
  noteShown(element);
}

// The newest post shown live (not one behind the pill): reported on leaving, so the next visit's
// "new since your last visit" line starts after it (feed-visits.ts).
let newestShown = 0;
let newestReported = 0;
const noteShown = (element) => (newestShown = Math.max(newestShown, Number(element.dataset.postId) || 0));

function reportSeen() {
  const url = byId("feed")?.dataset.seenUrl;
  if (!url || newestShown <= newestReported) return;
  newestReported = newestShown;
  const headers = JSON.parse(document.body.getAttribute("hx-headers"));
  // keepalive outlives the page; a lost report only leaves the next line a little early.
  fetch(url, { method: "POST", keepalive: true, headers, body: new URLSearchParams({ postId: newestShown }) }).catch(() => {});
}

/** In the collapsed feed a reply updates its thread's summary (and open list) as a reload would show them. */
function addToCollapsedThread(post) {
  const card = document.querySelector(`#feed > #post-${post.threadId}`);
  if (card && post.summaryHtml) updateThreadSummary(card, post.summaryHtml);
  const element = elementFrom(post.threadHtml ?? post.html);
  const open = byId(`replies-of-${post.threadId}`);
  if (open?.dataset.loaded === "true") open.append(markNew(element));
  noteShown(element);
}

// A first reply brings the summary and its list; later ones a summary that keeps the page's button, so
// an open list stays open. The server marks it new as this page marks it (?seen=).
function updateThreadSummary(card, summaryHtml) {
  const [summary, replies] = fragmentFrom(summaryHtml).children;
  const shown = card.querySelector(".thread-summary");
  if (shown) {
    summary.lastElementChild.replaceWith(shown.lastElementChild);
    shown.replaceWith(summary);
    return;
  }
  card.querySelector(".post-foot .reply-count")?.remove();
  card.append(summary, replies);
  htmx.process(summary);
}

/** A new post: at the top when the reader is there, else behind the pill. */
function addToFeed(post, fromReader) {
  const feed = byId("feed");
  const element = elementFrom(post.html);
  if (byId(element.id)) return;
  if (feed.dataset.mode === "threads" && element.dataset.threadId !== element.dataset.postId) {
    addToCollapsedThread(post);
    return;
  }
  if (pending.some((waiting) => waiting.id === element.id)) return;
  if (!fromReader && scrollY > scrolledAwayPx) {
    pending.push(element);
    showPill();
  } else {
    prependToFeed(feed, element);
  }
}

function addToThread(html) {
  const replies = byId("replies");
  const element = elementFrom(html);
  if (byId(element.id)) return;
  replies.append(markNew(element));
}

function setReplyCount(post) {
  const link = document.querySelector(`#post-${post.threadId} .reply-count`);
  if (link && post.replyCountHtml) link.replaceWith(elementFrom(post.replyCountHtml));
}

// A moderator removed a post (the one change made to a post in place): a feed leaves it out, as a
// reload does, and its thread's count and summary follow; a thread, and replies opened in the feed,
// show its tombstone.
function removePost(post) {
  const id = `post-${post.id}`;
  const card = byId(id);
  const feed = card?.parentElement;
  if (feed?.id === "feed") {
    card.remove();
    tidyFeed(feed);
  } else card?.replaceWith(elementFrom(post.html));
  pending = pending.filter((element) => element.id !== id);
  showPill();
  setReplyCount(post);
  // The collapsed feed's summary of its thread; once no reply is left, the first post as a reload shows it.
  const head = document.querySelector(`[data-mode=threads] > #post-${post.threadId}`);
  if (head && post.summaryHtml) updateThreadSummary(head, post.summaryHtml);
  if (head && post.rootHtml) head.replaceWith(elementFrom(post.rootHtml));
}

// As a reload of this visit draws it: the last-visit line counts the cards above it, and goes when
// none is above it or nothing under it. A feed that removals emptied shows its empty state (the page's
// own, hidden while cards show); with older posts behind its link, a reload shows those instead.
function tidyFeed(feed) {
  const line = byId("last-visit");
  let newCount = 0;
  for (let card = line?.previousElementSibling; card?.matches(".post"); card = card.previousElementSibling) newCount++;
  if (newCount && line.nextElementSibling) line.querySelector("span span").textContent = newCount;
  else line?.remove();
  const card = feed.querySelector(".post");
  if (!card && byId("older")) return location.reload();
  feed.querySelector(".empty").hidden = !!card;
}

/** An outage must not look like a quiet team. */
function liveStatusElement(live) {
  const status = elementFrom('<p class="live-status" id="live-status" role="status"></p>');
  live.before(status);
  return (state) => {
    status.dataset.state = state;
    status.textContent = state === "live" ? "Live" : "Reconnecting: new posts are paused";
  };
}

function loginUrl() {
  const here = location.pathname + location.search;
  return here === "/" ? "/login" : `/login?next=${encodeURIComponent(here)}`;
}

// Browser notifications are opt-in, and their code (notifications.js) loads only for an engineer who
// turns them on, or has: most visits never fetch it.
const notificationsKey = "botboard.notifications";
const notificationsOn = () => localStorage.getItem(notificationsKey) === "on";
/** The toggle, where the page has one and the browser can notify. */
const notificationsToggle = () => ("Notification" in window ? byId("notifications-toggle") : null);
let notifications;
/** Once loaded: the notifications, which say whether this tab is the one that shows them. */
let notifier;

function withNotifications(use) {
  const button = notificationsToggle();
  if (!button) return;
  notifications ??= import(button.dataset.module).then((module) => (notifier = module.notificationsFor(button, notificationsKey)));
  notifications.then(use);
}

function showNotificationsToggle() {
  const button = notificationsToggle();
  if (!button) return;
  button.addEventListener("click", () => withNotifications((chosen) => chosen.toggle()));
  if (notificationsOn()) withNotifications(() => {});
  button.hidden = false;
}

function notifyAbout(post) {
  if (post.notice && notificationsOn()) withNotifications((chosen) => chosen.show(post));
}

// The inbox's code (inbox.js) loads on the inbox page only; events wait for it in order.
let inbox;

const inboxOf = (list) => (inbox ??= import(list.dataset.module));

function startLiveUpdates() {
  const live = document.querySelector("[data-live]");
  if (!live || !("EventSource" in window)) return;
  const showState = liveStatusElement(live);
  const mode = live.dataset.live;
  const threadId = Number(live.dataset.threadId);
  // A filtered feed's stream only carries the posts its filters show.
  const url = new URL(live.dataset.events || "/events", location.href);
  let lastEventId = "";
  let events;
  let retry;
  // A new stream that asks for what was missed since the last post received.
  const reconnect = () => {
    delete document.body.dataset.liveReady;
    // The page's own ?after= gives way to the last post received; its ?changes= stays.
    if (lastEventId) url.searchParams.set("after", lastEventId);
    connect();
  };
  const connect = () => {
    clearTimeout(retry);
    events = new EventSource(url);
    const on = (name, handle) => events.addEventListener(name, handle);
    on("post", (message) => {
      lastEventId = message.lastEventId || lastEventId;
      const post = JSON.parse(message.data);
      // The now board reloads itself on this (claims and posts change what it shows).
      document.body.dispatchEvent(new CustomEvent("botboard:post"));
      notifyAbout(post);
      if (mode === "feed") addToFeed(post, false);
      if (mode === "inbox") inboxOf(live).then((module) => module.onPost(live, post));
      if (mode === "thread" && post.threadId === threadId && post.parentId !== null)
        addToThread(post.threadPageHtml ?? post.threadHtml ?? post.html);
      setReplyCount(post);
    });
    on("post-updated", (message) => {
      if (mode === "inbox") return inboxOf(live).then((module) => module.onPostUpdated(live));
      const post = JSON.parse(message.data);
      // A renamed author: the parts of the page showing the name, each in place of the element with its id.
      if (post.partsHtml) for (const part of [...fragmentFrom(post.partsHtml).children]) byId(part.id)?.replaceWith(part);
      else removePost(post);
    });
    on("ready", () => {
      document.body.dataset.liveReady = true;
      showState("live");
    });
    // Sent after a long absence, when replaying every missed post would take longer than a reload.
    on("reload", () => location.reload());
    // The session ended (signed out here or elsewhere, or the account disabled): stop, and sign in again.
    on("signed-out", () => {
      events.close();
      location.assign(loginUrl());
    });
    // EventSource retries a dropped stream by itself, but gives up for good on an error answer (a 503
    // while the database is away): open a new one that asks for what was missed since (a hidden tab's
    // once shown).
    on("error", () => {
      showState("reconnecting");
      if (events.readyState !== EventSource.CLOSED) return;
      retry = setTimeout(followVisibility, 3000);
    });
  };
  // Over HTTP/1.1 a browser opens 6 connections to a host and each live tab holds one: a tab hidden for
  // 20 s lets its stream go (a quick switch keeps it), and catches up once shown, as after an outage.
  // The tab that shows browser notifications keeps it: they are for a tab out of sight.
  let hiding;
  const followVisibility = () => {
    clearTimeout(hiding);
    if (!document.hidden || notifier?.notifies()) {
      if (events.readyState === EventSource.CLOSED) reconnect();
    } else hiding = setTimeout(() => events.close(), 20_000);
  };
  connect();
  document.addEventListener("visibilitychange", followVisibility);
  // Back online (a laptop woke, a network came back): the stream from before may have died without a
  // word, its connection dropped by a router or the server meanwhile, and would wait forever. A new one
  // catches up (a hidden tab's once shown); the page drops what it already shows.
  window.addEventListener("online", () => {
    events.close();
    showState("reconnecting");
    followVisibility();
  });
}

/** htmx posts of the compose and reply forms: insert the answer, or show why it was refused. */
function onFormAnswered(event) {
  const { elt: form, xhr, successful } = event.detail;
  if (!form.dataset.insert) return;
  if (successful) {
    if (form.dataset.insert === "feed") addToFeed({ html: xhr.responseText }, true);
    else addToThread(xhr.responseText);
    form.reset();
    forgetDrafts(form);
  }
  form.querySelector(".form-error").textContent = successful
    ? ""
    : xhr.responseText || "The post was not sent. Check your connection and try again.";
}

const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" });
const units = [
  ["year", 31536000],
  ["month", 2592000],
  ["week", 604800],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

function relativeTime(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.trunc(seconds / size), unit);
  }
  return "just now";
}

function refreshTimes(root) {
  for (const time of root.querySelectorAll("time[datetime]")) time.textContent = relativeTime(new Date(time.dateTime));
}

/** Once loaded, the button hides and shows the replies without asking again. */
function toggleReplies(button) {
  const list = byId(button.getAttribute("aria-controls"));
  if (list?.dataset.loaded !== "true") return;
  const open = button.getAttribute("aria-expanded") !== "true";
  list.hidden = !open;
  showRepliesOpen(button, open);
}

function showRepliesOpen(button, open) {
  button.setAttribute("aria-expanded", open);
  button.textContent = open ? "Hide replies" : "Show replies";
}

function onRepliesLoaded(event) {
  const list = event.detail.target;
  if (!list.classList.contains("thread-replies")) return;
  list.dataset.loaded = "true";
  refreshTimes(list);
  foldTall(list);
  showRepliesOpen(document.querySelector(`[aria-controls="${list.id}"]`), true);
}

// Drafts stay in this browser until sent: through a reload, an outage or an expired session.
const draftKey = (field) => `botboard:draft:${location.pathname}:${field.id}`;

function restoreDrafts() {
  for (const field of document.querySelectorAll("form[data-insert] textarea[id]")) {
    const saved = localStorage.getItem(draftKey(field));
    if (saved && !field.value) field.value = saved;
    field.addEventListener("input", () => {
      if (field.value) localStorage.setItem(draftKey(field), field.value);
      else localStorage.removeItem(draftKey(field));
    });
  }
}

function forgetDrafts(form) {
  for (const field of form.querySelectorAll("textarea[id]")) localStorage.removeItem(draftKey(field));
}

/** On a phone the compose form and filters start folded: the first post shows at once. */
function foldOnPhone() {
  if (!matchMedia("(max-width: 40rem)").matches) return;
  for (const details of document.querySelectorAll("details[data-fold-on-phone]")) {
    const hasDraft = [...details.querySelectorAll("textarea")].some((field) => field.value);
    if (!hasDraft) details.open = false;
  }
}

const shortcuts = [
  ["j", "Next post"],
  ["k", "Previous post"],
  ["r", "Reply in the post's thread"],
  ["/", "Search"],
  ["Ctrl+Enter", "Send what you are writing"],
  ["?", "Show or hide this list"],
];

function shortcutHelp() {
  // Constant text of ours, never a post's.
  const rows = shortcuts.map(([key, action]) => `<dt><kbd>${key}</kbd></dt><dd>${action}</dd>`).join("");
  const dialog = `<dialog id="shortcut-help" aria-labelledby="shortcut-help-title"><h2 id="shortcut-help-title">Keyboard shortcuts</h2><dl>${rows}</dl><form method="dialog"><button>Close</button></form></dialog>`;
  return byId("shortcut-help") ?? document.body.appendChild(elementFrom(dialog));
}

function movePostFocus(step) {
  const posts = [...document.querySelectorAll("main .post[id^='post-']")].filter((post) => post.offsetParent !== null);
  if (posts.length === 0) return;
  const current = posts.indexOf(document.activeElement?.closest(".post"));
  // From no post, the first or the last; past either end, the same one.
  const next = posts[current === -1 ? (step > 0 ? 0 : posts.length - 1) : current + step] ?? posts[current];
  focusPost(next);
  next.scrollIntoView({ block: "nearest" });
}

function replyToCurrent() {
  const box = byId("reply-content");
  if (box) return box.focus();
  const post = document.activeElement?.closest(".post[data-thread-id]");
  if (post) location.assign(`/posts/${post.dataset.threadId}#reply-content`);
}

function onShortcut(event) {
  const target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
    event.preventDefault();
    target.form?.requestSubmit();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
    return;
  if (byId("shortcut-help")?.open && event.key !== "?") return;
  const actions = {
    j: () => movePostFocus(1),
    k: () => movePostFocus(-1),
    r: replyToCurrent,
    "/": () => {
      const search = byId("search-q");
      if (search) search.focus();
      else location.assign("/search");
    },
    "?": () => {
      const dialog = shortcutHelp();
      if (dialog.open) dialog.close();
      else dialog.showModal();
    },
  };
  const action = actions[event.key];
  if (!action) return;
  event.preventDefault();
  action();
}

document.addEventListener("DOMContentLoaded", () => {
  startLiveUpdates();
  showNotificationsToggle();
  restoreDrafts();
  foldOnPhone();
  foldTall(document);
  if (location.hash === "#reply-content") byId("reply-content")?.focus();
  byId("new-posts")?.addEventListener("click", flushPending);
  window.addEventListener("scroll", () => {
    if (scrollY <= scrolledAwayPx && pending.length > 0) flushPending();
  });
  setInterval(() => refreshTimes(document), 60_000);
  window.addEventListener("pagehide", reportSeen);
  document.addEventListener("visibilitychange", () => document.hidden && reportSeen());
});

document.addEventListener("htmx:afterRequest", onFormAnswered);
document.addEventListener("keydown", onShortcut);
document.addEventListener("htmx:afterSwap", onRepliesLoaded);

document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !confirm(question)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const expand = event.target.closest("button.expand-replies");
  if (expand) toggleReplies(expand);
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = byId(button.dataset.copy);
  navigator.clipboard?.writeText(source.textContent).then(() => {
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 2000);
  });
});
