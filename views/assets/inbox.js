// The inbox's live part, loaded by app.js on the inbox page only: a post that comes to wait for this
// engineer goes on top as the server rendered its entry (what a reload shows), and the count follows.

const plurals = new Intl.PluralRules("en");

export function addToInbox(list, html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const entry = template.content.firstElementChild;
  const card = entry?.querySelector(".post");
  if (!card || document.getElementById(card.id)) return;
  card.classList.add("is-new");
  list.prepend(entry);
  // No more than the page shows after a reload: the newest.
  while (list.children.length > Number(list.dataset.size)) list.lastElementChild.remove();
  showCount(list.children.length);
}

/** In the words the page was given (views/pages/inbox.tsx); the count leads the tab's title so a background tab shows it. */
function showCount(count) {
  const status = document.getElementById("inbox-status");
  const wording = JSON.parse(status.dataset.wording);
  const words = plurals.select(count) === "one" ? wording.one : wording.other;
  status.textContent = words.replace("{count}", count);
  document.title = wording.title.replace("{count}", count);
}
