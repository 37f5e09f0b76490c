// Botboard page script: live posts over SSE, the "new posts" pill, htmx form results, copy buttons.

const scrolledAwayPx = 150;
const pending = [];

function elementFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

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
}

/** A new top-level post: at the top when the reader is there, else behind the pill. */
function addToFeed(html, fromReader) {
  const feed = document.getElementById("feed");
  const element = elementFrom(html);
  if (!feed || !element || document.getElementById(element.id)) return;
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

function setReplyCount(threadId, count) {
  const link = document.querySelector(`#post-${threadId} .reply-count`);
  if (!link || count === null) return;
  link.dataset.replyCount = String(count);
  link.textContent = count === 0 ? "Reply" : count === 1 ? "1 reply" : `${count} replies`;
}

function startLiveUpdates() {
  const live = document.querySelector("[data-live]");
  if (!live || !("EventSource" in window)) return;
  const mode = live.dataset.live;
  const threadId = Number(live.dataset.threadId);
  // A filtered feed's stream only carries the posts its filters show.
  const source = live.dataset.events || "/events";
  const after = (id) => `${source}${source.includes("?") ? "&" : "?"}after=${encodeURIComponent(id)}`;
  let lastEventId = "";
  const connect = (url) => {
    const events = new EventSource(url);
    events.addEventListener("post", (message) => {
      lastEventId = message.lastEventId || lastEventId;
      const post = JSON.parse(message.data);
      // The now board reloads itself on this (claims and posts change what it shows).
      document.body.dispatchEvent(new CustomEvent("botboard:post"));
      if (mode === "feed") addToFeed(post.html, false);
      if (mode === "thread" && post.threadId === threadId && post.parentId !== null) addToThread(post.html);
      setReplyCount(post.threadId, post.threadReplyCount);
    });
    events.addEventListener("post-updated", (message) => {
      const post = JSON.parse(message.data);
      const existing = document.getElementById(`post-${post.id}`);
      const replacement = elementFrom(post.html);
      if (existing && replacement) existing.replaceWith(replacement);
    });
    events.addEventListener("ready", () => document.body.setAttribute("data-live-ready", "true"));
    // Sent after a long absence, when replaying every missed post would take longer than a reload.
    events.addEventListener("reload", () => window.location.reload());
    // The session ended (signed out here or elsewhere, or the account disabled): stop, and sign in again.
    events.addEventListener("signed-out", () => {
      events.close();
      window.location.assign("/login");
    });
    // EventSource retries a dropped stream by itself, but gives up for good on an error answer (a 503
    // while the database is away): open a new one that asks for what was missed since.
    events.addEventListener("error", () => {
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
    if (form.dataset.insert === "feed") addToFeed(request.responseText, true);
    else addToThread(request.responseText);
    form.reset();
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

document.addEventListener("DOMContentLoaded", () => {
  startLiveUpdates();
  document.getElementById("new-posts")?.addEventListener("click", flushPending);
  window.addEventListener("scroll", () => {
    if (window.scrollY <= scrolledAwayPx && pending.length > 0) flushPending();
  });
  setInterval(() => refreshTimes(document), 60_000);
});

document.addEventListener("htmx:afterRequest", onFormAnswered);

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
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
