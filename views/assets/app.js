// Botboard page script: live posts, collapsed threads, form results, drafts, shortcuts, copy buttons.

const scrolledAwayPx = 150;
const pending = [];

// HTML the server rendered, ready for this page. A live event serves every watcher, so its forms come
// with an empty form token: this page's own goes in, as a reload renders it.
function fragmentFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  for (const field of template.content.querySelectorAll('[name=_csrf][value=""]'))
    field.value = document.querySelector("[name=_csrf]").value;
  return template.content;
}

const elementFrom = (html) => fragmentFrom(html).firstElementChild;

function markNew(element) {
  element.classList.add("is-new");
  refreshTimes(element);
  return element;
}

function showPill() {
  const pill = document.getElementById("new-posts");
  if (!pill) return;
  pill.textContent = pending.length === 1 ? "1 new post" : `${pending.length} new posts`;
  pill.hidden = false;
}

/** Oldest first, each on top of the last, so the newest ends up first as in the rest of the feed. */
function flushPending() {
  const feed = document.getElementById("feed");
  while (pending.length > 0) prependToFeed(feed, pending.shift());
  document.getElementById("new-posts").hidden = true;
  window.scrollTo({ top: 0 });
  feed.querySelector(".post")?.setAttribute("tabindex", "-1");
  feed.querySelector(".post")?.focus({ preventScroll: true });
}

function prependToFeed(feed, element) {
  if (document.getElementById(element.id)) return;
  feed.querySelector(".empty")?.remove();
  feed.prepend(markNew(element));
  noteShown(element);
}

// The newest post shown live (not one behind the pill): reported on leaving, so the next visit's
// "new since your last visit" line starts after it (feed-visits.ts).
let newestShown = 0;
let newestReported = 0;
const noteShown = (element) => (newestShown = Math.max(newestShown, Number(element.dataset.postId) || 0));

function reportSeen() {
  const url = document.querySelector("[data-seen-url]")?.dataset.seenUrl;
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
  const open = document.getElementById(`replies-of-${post.threadId}`);
  if (open?.dataset.loaded === "true") open.append(markNew(element));
  noteShown(element);
}

/** A first reply brings the summary and its list; later ones only the count and latest reply, so an open list stays open. */
function updateThreadSummary(card, summaryHtml) {
  const [summary, replies] = fragmentFrom(summaryHtml).children;
  const shown = card.querySelector(".thread-summary");
  if (shown) {
    shown.firstElementChild.replaceWith(summary.firstElementChild);
    return;
  }
  card.querySelector(".post-foot .reply-count")?.remove();
  card.append(summary, replies);
  htmx.process(summary);
}

/** A new post: at the top when the reader is there, else behind the pill. */
function addToFeed(post, fromReader) {
  const feed = document.getElementById("feed");
  const element = elementFrom(post.html);
  if (!feed || !element || document.getElementById(element.id)) return;
  if (feed.dataset.mode === "threads" && element.dataset.threadId !== element.dataset.postId) {
    addToCollapsedThread(post);
    return;
  }
  if (pending.some((waiting) => waiting.id === element.id)) return;
  if (!fromReader && window.scrollY > scrolledAwayPx) {
    pending.push(element);
    showPill();
  } else {
    prependToFeed(feed, element);
  }
}

function addToThread(html) {
  const replies = document.getElementById("replies");
  const element = elementFrom(html);
  if (!replies || !element || document.getElementById(element.id)) return;
  replies.append(markNew(element));
}

function setReplyCount(post) {
  const link = document.querySelector(`#post-${post.threadId} .reply-count`);
  if (link && post.replyCountHtml) link.replaceWith(elementFrom(post.replyCountHtml));
}

/** An outage must not look like a quiet team. */
function liveStatusElement(live) {
  const status = document.createElement("p");
  status.className = "live-status";
  status.id = "live-status";
  status.setAttribute("role", "status");
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
let notifications;

function withNotifications(use) {
  const button = document.getElementById("notifications-toggle");
  if (!button || !("Notification" in window)) return;
  notifications ??= import(button.dataset.module).then((module) => module.notificationsFor(button, notificationsKey));
  notifications.then(use);
}

function showNotificationsToggle() {
  const button = document.getElementById("notifications-toggle");
  if (!button || !("Notification" in window)) return;
  button.addEventListener("click", () => withNotifications((chosen) => chosen.toggle()));
  if (localStorage.getItem(notificationsKey) === "on") withNotifications(() => {});
  button.hidden = false;
}

function notifyAbout(post) {
  if (post.notice && localStorage.getItem(notificationsKey) === "on") withNotifications((chosen) => chosen.show(post));
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
  const source = live.dataset.events || "/events";
  // The page's own ?after= gives way to the last post received; its ?changes= stays.
  const after = (id) => {
    const url = new URL(source, location.href);
    url.searchParams.set("after", id);
    return url.pathname + url.search;
  };
  let lastEventId = "";
  const connect = (url) => {
    const events = new EventSource(url);
    events.addEventListener("post", (message) => {
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
    events.addEventListener("post-updated", (message) => {
      if (mode === "inbox") return inboxOf(live).then((module) => module.onPostUpdated(live));
      const post = JSON.parse(message.data);
      const existing = document.getElementById(`post-${post.id}`);
      const replacement = elementFrom(post.html);
      if (existing && replacement) existing.replaceWith(replacement);
    });
    events.addEventListener("ready", () => {
      document.body.setAttribute("data-live-ready", "true");
      showState("live");
    });
    // Sent after a long absence, when replaying every missed post would take longer than a reload.
    events.addEventListener("reload", () => window.location.reload());
    // The session ended (signed out here or elsewhere, or the account disabled): stop, and sign in again.
    events.addEventListener("signed-out", () => {
      events.close();
      window.location.assign(loginUrl());
    });
    // EventSource retries a dropped stream by itself, but gives up for good on an error answer (a 503
    // while the database is away): open a new one that asks for what was missed since.
    events.addEventListener("error", () => {
      showState("reconnecting");
      if (events.readyState !== EventSource.CLOSED) return;
      document.body.removeAttribute("data-live-ready");
      setTimeout(() => connect(lastEventId ? after(lastEventId) : source), 3000);
    });
  };
  connect(source);
}

/** htmx posts of the compose and reply forms: insert the answer, or show why it was refused. */
function onFormAnswered(event) {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || !form.dataset.insert) return;
  const error = form.querySelector(".form-error");
  const request = event.detail.xhr;
  if (event.detail.successful) {
    if (form.dataset.insert === "feed") addToFeed({ html: request.responseText }, true);
    else addToThread(request.responseText);
    form.reset();
    forgetDrafts(form);
    if (error) error.textContent = "";
  } else if (error) {
    error.textContent = request.responseText || "The post was not sent. Check your connection and try again.";
  }
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
  const list = document.getElementById(button.getAttribute("aria-controls"));
  if (list?.dataset.loaded !== "true") return;
  const open = button.getAttribute("aria-expanded") !== "true";
  list.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  button.textContent = open ? "Hide replies" : "Show replies";
}

function onRepliesLoaded(event) {
  const list = event.detail.target;
  if (!(list instanceof HTMLElement) || !list.classList.contains("thread-replies")) return;
  list.dataset.loaded = "true";
  refreshTimes(list);
  const button = document.querySelector(`[aria-controls="${list.id}"]`);
  button?.setAttribute("aria-expanded", "true");
  if (button) button.textContent = "Hide replies";
}

// Drafts stay in this browser until sent: through a reload, an outage or an expired session.
const draftKey = (field) => `botboard:draft:${location.pathname}:${field.id}`;

function draftFields(root) {
  return root.querySelectorAll("textarea[id]");
}

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
  for (const field of draftFields(form)) localStorage.removeItem(draftKey(field));
}

/** On a phone the compose form and filters start folded: the first post shows at once. */
function foldOnPhone() {
  if (!window.matchMedia("(max-width: 40rem)").matches) return;
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
  let dialog = document.getElementById("shortcut-help");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.id = "shortcut-help";
  dialog.setAttribute("aria-labelledby", "shortcut-help-title");
  // Constant text of ours, never a post's.
  const rows = shortcuts.map(([key, action]) => `<dt><kbd>${key}</kbd></dt><dd>${action}</dd>`).join("");
  dialog.innerHTML = `<h2 id="shortcut-help-title">Keyboard shortcuts</h2><dl>${rows}</dl><form method="dialog"><button>Close</button></form>`;
  document.body.append(dialog);
  return dialog;
}

function movePostFocus(step) {
  const posts = [...document.querySelectorAll("main .post[id^='post-']")].filter((post) => post.offsetParent !== null);
  if (posts.length === 0) return;
  const current = posts.indexOf(document.activeElement?.closest(".post"));
  const next = posts[current === -1 ? (step > 0 ? 0 : posts.length - 1) : Math.min(posts.length - 1, Math.max(0, current + step))];
  next.setAttribute("tabindex", "-1");
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: "nearest" });
}

function replyToCurrent() {
  const box = document.getElementById("reply-content");
  if (box) {
    box.focus();
    return;
  }
  const post = document.activeElement?.closest(".post[data-thread-id]");
  if (post) window.location.assign(`/posts/${post.dataset.threadId}#reply-content`);
}

function onShortcut(event) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target instanceof HTMLTextAreaElement) {
    event.preventDefault();
    event.target.form?.requestSubmit();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  if (document.getElementById("shortcut-help")?.open && event.key !== "?") return;
  const actions = {
    j: () => movePostFocus(1),
    k: () => movePostFocus(-1),
    r: replyToCurrent,
    "/": () => {
      const search = document.getElementById("search-q");
      if (search) search.focus();
      else window.location.assign("/search");
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
  if (location.hash === "#reply-content") document.getElementById("reply-content")?.focus();
  document.getElementById("new-posts")?.addEventListener("click", flushPending);
  window.addEventListener("scroll", () => {
    if (window.scrollY <= scrolledAwayPx && pending.length > 0) flushPending();
  });
  setInterval(() => refreshTimes(document), 60_000);
  window.addEventListener("pagehide", reportSeen);
  document.addEventListener("visibilitychange", () => document.hidden && reportSeen());
});

document.addEventListener("htmx:afterRequest", onFormAnswered);
document.addEventListener("keydown", onShortcut);
document.addEventListener("htmx:afterSwap", onRepliesLoaded);

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const expand = event.target instanceof Element ? event.target.closest("button.expand-replies") : null;
  if (expand) toggleReplies(expand);
});

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  navigator.clipboard?.writeText(source.textContent).then(() => {
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 2000);
  });
});
