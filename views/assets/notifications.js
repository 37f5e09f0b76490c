// Browser notifications, loaded by app.js only for an engineer who turns them on (or has): the
// button asks the browser's permission, and a live post addressed to this engineer (the server says
// why, in post.notice) then shows one. A notification's title and body are plain text: the
// Notification API never renders them as HTML.
export function notificationsFor(button, storageKey) {
  const isOn = () => Notification.permission === "granted" && localStorage.getItem(storageKey) === "on";
  const update = () => {
    const blocked = Notification.permission === "denied";
    button.textContent = isOn()
      ? "Turn off notifications"
      : blocked
        ? "Notifications are blocked in this browser"
        : "Turn on notifications";
    button.disabled = blocked;
    button.setAttribute("aria-pressed", String(isOn()));
  };
  update();
  // A hidden tab lets its live stream go (app.js), but the one that shows these keeps it: the first live
  // page to ask for the lock, then the next once that one closes, which looks again to open its stream.
  let holdsLock = false;
  if (document.querySelector("[data-live]"))
    navigator.locks?.request("botboard-notifications", () => {
      holdsLock = true;
      document.dispatchEvent(new Event("visibilitychange"));
      return new Promise(() => {});
    });
  return {
    notifies: () => holdsLock && isOn(),
    async toggle() {
      if (isOn()) localStorage.setItem(storageKey, "off");
      else if ((await Notification.requestPermission()) === "granted") localStorage.setItem(storageKey, "on");
      update();
    },
    show(post) {
      if (!isOn()) return;
      const notification = new Notification(post.notice.title, { body: post.notice.body, tag: `botboard-post-${post.id}` });
      notification.addEventListener("click", () => {
        window.focus();
        window.location.assign(`/posts/${post.threadId}#post-${post.id}`);
      });
    },
  };
}
