// The inbox's live part, loaded by app.js on the inbox page only. A post that comes to wait for this
// engineer goes on top as the server rendered its entry, and the count follows in the page's words.
// A change that can end waits (a post removed, an urgent post answered) has the page read the inbox
// again: the server's rule decides what stays, so the page shows what a reload would.

const plurals = new Intl.PluralRules("en");
const retryMs = 3000;

let reading = false;
let readAgain = false;
/** Entries that came while the inbox was being read: a read that began before they were written lacks them. */
let cameWhileReading = [];

/** A live post: its entry if it waits for this engineer; the inbox read again if the server says it can end other waits. */
export function onPost(list, post) {
  if (post.inboxHtml) addToInbox(list, post.inboxHtml);
  if (post.inboxesChanged) readInboxAgain(list);
}

/** A post removed: the inbox lists no removed post, and a removed answer can make its urgent post wait again. */
export function onPostUpdated(list) {
  readInboxAgain(list);
}

function addToInbox(list, html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const entry = template.content.firstElementChild;
  const card = entry?.querySelector(".post");
  if (!card || document.getElementById(card.id)) return;
  card.classList.add("is-new");
  if (reading) cameWhileReading.push(entry);
  putOnTop(list, entry);
}

function putOnTop(list, entry) {
  list.prepend(entry);
  // No more than the page shows after a reload: the newest.
  while (list.children.length > Number(list.dataset.size)) list.lastElementChild.remove();
  showCount(list.children.length);
  foldTall(list);
}

/** In the words the page was given (views/pages/inbox.tsx); the count leads the tab's title so a background tab shows it. */
function showCount(count) {
  const status = document.getElementById("inbox-status");
  const wording = JSON.parse(status.dataset.wording);
  const words = plurals.select(count) === "one" ? wording.one : wording.other;
  status.textContent = words.replace("{count}", count);
  document.title = wording.title.replace("{count}", count);
}

/** Reads the inbox page again, one read at a time; asked during a read, it reads once more after it. */
function readInboxAgain(list) {
  if (reading) {
    readAgain = true;
    return;
  }
  reading = true;
  cameWhileReading = [];
  fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store" })
    .then((response) => {
      if (!response.ok) throw new Error(`GET ${location.pathname}: ${response.status}`);
      return response.text();
    })
    .then((html) => showInbox(list, new DOMParser().parseFromString(html, "text/html")))
    .catch((error) => {
      console.warn("could not read the inbox again; trying again", error);
      setTimeout(() => readInboxAgain(list), retryMs);
    })
    .finally(() => {
      reading = false;
      if (!readAgain) return;
      readAgain = false;
      readInboxAgain(list);
    });
}

/** The inbox as the server just rendered it, keeping the highlight of the posts that came live. */
function showInbox(list, page) {
  const entries = page.querySelector("ol.inbox");
  // Not the inbox (signed out meanwhile): the page shows what a reload does.
  if (!entries) return window.location.reload();
  const cameLive = new Set([...list.querySelectorAll(".post.is-new")].map((card) => card.id));
  list.replaceChildren(...entries.children);
  for (const card of list.querySelectorAll(".post")) if (cameLive.has(card.id)) card.classList.add("is-new");
  document.getElementById("inbox-status").textContent = page.getElementById("inbox-status").textContent;
  document.title = page.title;
  for (const entry of cameWhileReading) {
    if (!document.getElementById(entry.querySelector(".post").id)) putOnTop(list, entry);
  }
  foldTall(list);
}
