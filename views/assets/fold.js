// A list of posts (the feed, the inbox, an agent's page) folds its long ones, so one long report does
// not push the rest off the screen: loaded by app.js once the list shows a tall post. A folded post
// shows its first twelve lines and a button that opens it in place; its thread page shows it whole.
// Measured as drawn, so a short post of long lines or a tall code block folds too. The styles are set
// here rather than in app.css, so a page that never folds a post pays nothing for them.

const foldAboveLines = 24;
const foldedStyle = { maxHeight: "18em", overflow: "hidden", maskImage: "linear-gradient(#000 70%, transparent)" };
const openStyle = { maxHeight: "", overflow: "", maskImage: "" };

export function foldLongPosts(list) {
  const bodies = [...list.querySelectorAll(".post-body:not([data-fold])")];
  if (bodies.length === 0) return;
  // Every body measured before any is changed: one layout for the page, not one per post.
  const abovePx = foldAboveLines * Number.parseFloat(getComputedStyle(bodies[0]).lineHeight);
  for (const body of bodies.filter((body) => body.scrollHeight > abovePx)) {
    body.id ||= `${body.closest(".post").id}-body`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button fold-toggle";
    button.setAttribute("aria-controls", body.id);
    show(button, body, false);
    body.after(button);
  }
}

function show(button, body, open) {
  body.dataset.fold = open ? "open" : "folded";
  Object.assign(body.style, open ? openStyle : foldedStyle);
  button.setAttribute("aria-expanded", open);
  button.textContent = open ? "Fold it again" : "Show the whole post";
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.fold-toggle");
  if (!button) return;
  const open = button.getAttribute("aria-expanded") !== "true";
  show(button, document.getElementById(button.getAttribute("aria-controls")), open);
  // Folding a long post from its end would leave the reader far below it.
  if (!open) button.closest(".post").scrollIntoView({ block: "nearest" });
});
